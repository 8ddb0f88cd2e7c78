"""Seed steps of the families app: the demo families and the parent-portal logins, for
``seed --env dev`` (about 200 students) and ``seed --env test`` (the two fixed families,
three students). Production gets none of this.

The plans describe the 2025-26 year (``test`` keeps it); ``dev`` moves every date by
whole years into its current academic year, so a child planned for Grade 4 is of Grade 4
age whenever the demo is seeded, and no one is enrolled after the seed's day.

Students are admitted with their guardians through ``families.services.student_admit``.
Each demo student carries a marker in its internal notes (``[demo-seed 0007-2]``: family
7, second child), as docs/rules.md asks (demo students "are marked as
such"); the marker is the natural key that makes a second run skip the student, even
after staff renamed it. Guardians are matched on their email address.
"""

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from academy.common.registry import seed_step
from academy.models import GradeLevel, Location
from academy.seeds import DEMO_ENVIRONMENTS, TEST_YEAR, Log, Tally, demo_user_ensure, demo_year, grade_name
from families.models import Guardian, StudentGuardian
from families.services import GuardianLinkSpec, guardian_set_portal_user, student_admit
from students.models import Student

DEV_STUDENTS = 200
RANDOM_SEED = 20250901
MARKER = re.compile(r"\[demo-seed (\d{4}-\d+)\]")

PRIMARY = StudentGuardian.RelationshipType.PRIMARY
SECONDARY = StudentGuardian.RelationshipType.SECONDARY
EMERGENCY = StudentGuardian.RelationshipType.EMERGENCY

# username -> email of the guardian whose portal login it is
DEMO_PARENTS = (("parent", "sarah.johnson@example.org"), ("parent2", "maria.garcia@example.org"))


@dataclass
class GuardianPlan:
    first_name: str
    last_name: str
    email: str
    phone: str
    relation: str
    salutation: str = ""
    preferred_communication: str = Guardian.Communication.EMAIL
    address: dict = field(default_factory=dict)
    flags: dict = field(default_factory=dict)

    def data(self) -> dict:
        return {
            "salutation": self.salutation,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "preferred_communication": self.preferred_communication,
            **self.address,
        }


@dataclass
class ChildPlan:
    key: str
    first_name: str
    gender: str
    date_of_birth: date
    grade: int
    enrollment_date: date
    status: str = Student.Status.ACTIVE
    homeroom: str = "A"
    email: str | None = None
    allergies: str = ""
    medical_conditions: str = ""
    medications: str = ""
    referral_source: str = ""


@dataclass
class FamilyPlan:
    number: int
    last_name: str
    location: str
    address: dict
    primary: GuardianPlan
    secondary: GuardianPlan | None = None
    emergency: GuardianPlan | None = None
    children: list[ChildPlan] = field(default_factory=list)


def _address(location: str, number: int, street: str) -> dict:
    city, postal_code = ("Springfield", "62704") if location == "MAIN" else ("North Springfield", "62702")
    return {
        "address_line1": f"{number} {street}",
        "city": city,
        "state": "IL",
        "country": "United States",
        "postal_code": postal_code,
    }


def _fixed_families() -> list[FamilyPlan]:
    """The families behind the ``parent`` and ``parent2`` logins, the same in dev and test."""
    johnson_home = _address("MAIN", 12, "Maple Street")
    garcia_home = _address("MAIN", 48, "Oak Avenue")
    return [
        FamilyPlan(
            number=1,
            last_name="Johnson",
            location="MAIN",
            address=johnson_home,
            primary=GuardianPlan(
                "Sarah", "Johnson", "sarah.johnson@example.org", "555-0124", "Mother", "Mrs", address=johnson_home
            ),
            secondary=GuardianPlan(
                "David",
                "Johnson",
                "david.johnson@example.org",
                "555-0125",
                "Father",
                "Mr",
                Guardian.Communication.SMS,
                address=johnson_home,
                flags={"can_authorize_medical": True, "is_financially_responsible": False},
            ),
            children=[
                ChildPlan("0001-1", "Emma", "female", date(2016, 4, 12), 4, date(2022, 9, 5), allergies="Peanuts"),
                ChildPlan("0001-2", "Liam", "male", date(2019, 7, 3), 1, date(2024, 9, 2), homeroom="B"),
            ],
        ),
        FamilyPlan(
            number=2,
            last_name="Garcia",
            location="MAIN",
            address=garcia_home,
            primary=GuardianPlan(
                "Maria", "Garcia", "maria.garcia@example.org", "555-0131", "Mother", "Ms", address=garcia_home
            ),
            emergency=GuardianPlan(
                "Rosa",
                "Martinez",
                "rosa.martinez@example.org",
                "555-0132",
                "Grandmother",
                "Mrs",
                Guardian.Communication.PHONE,
                flags={"can_pick_up": True, "receives_communications": False},
            ),
            children=[ChildPlan("0002-1", "Sofia", "female", date(2017, 10, 21), 2, date(2023, 9, 4))],
        ),
    ]


def _words(text: str, separator: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(separator))


GIRLS = _words(
    "Olivia Ava Mia Isabella Amelia Harper Evelyn Abigail Ella Chloe Grace Lily Zoe Nora Hannah Aria Layla Riley "
    "Aaliyah Leah Maya Priya Aisha Mei Yuki Fatima Ines Camila Lucia Freya"
)
BOYS = _words(
    "Noah Oliver Elijah James Lucas Mason Ethan Logan Aiden Jacob Henry Samuel Leo Owen Caleb Isaac Jack Ryan "
    "Mateo Omar Arjun Kenji Hiro Luca Tomas Felix Hugo Ravi Daniel Ezra"
)
MOTHERS = _words("Jennifer Laura Michelle Angela Rachel Nicole Sandra Natalie Anita Yasmin Helen Claire Sunita Keiko")
FATHERS = _words("Michael Robert William Thomas Andrew Kevin Brian Steven Rahul Ahmed Paul Mark Hiroshi Carlos")
ELDERS = (("Margaret", "Grandmother"), ("Richard", "Grandfather"), ("Susan", "Aunt"), ("George", "Uncle"))
SURNAMES = _words(
    "Smith Williams Brown Jones Miller Davis Rodriguez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee "
    "Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Torres Hill Green Adams "
    "Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris "
    "Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Kelly Howard Cox Ward Patel Kim Singh Okafor Haddad "
    "Novak Kowalski Rossi Sato Tanaka Nakamura Fischer Weber Dubois Silva Costa"
)
STREETS = _words(
    "Elm Street,Cedar Lane,Birch Road,Willow Way,Pine Court,Lakeview Drive,Hillside Avenue,Park Place", ","
)
REFERRALS = ("Friend or family", "Website", "School flyer", "Social media", "Walked past", "")
ALLERGIES = ("Peanuts", "Tree nuts", "Penicillin", "Bee stings", "Latex", "Shellfish")
CONDITIONS = (("Asthma", "Salbutamol inhaler"), ("Eczema", "Emollient cream"), ("Type 1 diabetes", "Insulin pump"))


def _school_start_birthday(rng: random.Random, grade: int) -> date:
    """A birthday that puts the child in ``grade`` (0 = Kindergarten) in 2025-26: the
    cohort born from 1 September to 31 August."""
    return date(2019 - grade, 9, 1) + timedelta(days=rng.randint(0, 364))


def _random_family(rng: random.Random, number: int, children: int) -> FamilyPlan:
    last_name = rng.choice(SURNAMES)
    location = "MAIN" if rng.random() < 0.55 else "NORTH"
    home = _address(location, rng.randint(1, 999), rng.choice(STREETS))
    mother = GuardianPlan(
        rng.choice(MOTHERS),
        last_name,
        "",
        "",
        "Mother",
        rng.choice(("Mrs", "Ms")),
        address=home,
    )
    father = GuardianPlan(rng.choice(FATHERS), last_name, "", "", "Father", "Mr", address=home)
    primary, other = (mother, father) if rng.random() < 0.65 else (father, mother)
    family = FamilyPlan(number=number, last_name=last_name, location=location, address=home, primary=primary)
    if rng.random() < 0.45:
        other.flags = {
            "can_pick_up": True,
            "can_authorize_medical": rng.random() < 0.7,
            "receives_communications": True,
            "is_financially_responsible": rng.random() < 0.3,
        }
        family.secondary = other
    if rng.random() < 0.25:
        elder_name, relation = rng.choice(ELDERS)
        family.emergency = GuardianPlan(
            elder_name,
            rng.choice(SURNAMES),
            "",
            "",
            relation,
            preferred_communication=Guardian.Communication.PHONE,
            address=_address(location, rng.randint(1, 999), rng.choice(STREETS)),
            flags={"can_pick_up": rng.random() < 0.5, "receives_communications": False},
        )
    for index, guardian in enumerate(filter(None, (family.primary, family.secondary, family.emergency))):
        guardian.email = f"{guardian.first_name}.{guardian.last_name}.{number:04d}{'abc'[index]}@example.org".lower()
        guardian.phone = f"555-{number:04d}-{index}"
        if guardian is not family.emergency:
            guardian.preferred_communication = rng.choices(
                (Guardian.Communication.EMAIL, Guardian.Communication.SMS, Guardian.Communication.PHONE), (7, 2, 1)
            )[0]

    for child_index in range(1, children + 1):
        girl = rng.random() < 0.5
        status = rng.choices(
            (Student.Status.ACTIVE, Student.Status.INACTIVE, Student.Status.WITHDRAWN, Student.Status.GRADUATED),
            (88, 5, 4, 3),
        )[0]
        grade = 12 if status == Student.Status.GRADUATED else rng.randint(0, 12)
        born = _school_start_birthday(rng, grade)
        first_year = max(2021, born.year + 4)
        enrolled = date(rng.randint(first_year, 2025), 9, 1) + timedelta(days=rng.randint(0, 45))
        first_name = rng.choice(GIRLS if girl else BOYS)
        child = ChildPlan(
            key=f"{number:04d}-{child_index}",
            first_name=first_name,
            gender="female" if girl else "male",
            date_of_birth=born,
            grade=grade,
            enrollment_date=enrolled,
            status=status,
            homeroom=rng.choice("AB"),
            referral_source=rng.choice(REFERRALS),
        )
        if grade >= 9 and rng.random() < 0.5:
            child.email = f"{first_name}.{last_name}.{child.key}@students.example.org".lower()
        if rng.random() < 0.1:
            child.allergies = rng.choice(ALLERGIES)
        if rng.random() < 0.06:
            child.medical_conditions, child.medications = rng.choice(CONDITIONS)
        family.children.append(child)
    return family


def family_plans(env: str, *, years: int = 0, today: date | None = None) -> list[FamilyPlan]:
    """The demo families of ``env``: always the same for the same environment, their
    dates moved by ``years`` and no enrollment date after ``today``."""
    families = _fixed_families()
    if env == "dev":
        rng = random.Random(RANDOM_SEED)
        total = sum(len(family.children) for family in families)
        number = len(families)
        while total < DEV_STUDENTS:
            number += 1
            size = min(rng.choices((1, 2, 3), (55, 30, 15))[0], DEV_STUDENTS - total)
            families.append(_random_family(rng, number, size))
            total += size
    if years or today:
        for family in families:
            for child in family.children:
                child.date_of_birth = _years_later(child.date_of_birth, years)
                child.enrollment_date = _years_later(child.enrollment_date, years)
                if today is not None:
                    child.enrollment_date = min(child.enrollment_date, today)
    return families


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _link_spec(plan: GuardianPlan, relationship_type: str) -> GuardianLinkSpec:
    flags = {"relation": plan.relation, **plan.flags}
    guardian = Guardian.objects.filter(email__iexact=plan.email).first()
    if guardian is not None:
        return GuardianLinkSpec(relationship_type, guardian=guardian, flags=flags)
    return GuardianLinkSpec(relationship_type, data=plan.data(), flags=flags)


def _student_data(family: FamilyPlan, child: ChildPlan, *, location, grade, year) -> dict:
    contact = family.emergency or family.secondary
    return {
        "first_name": child.first_name,
        "last_name": family.last_name,
        "gender": child.gender,
        "date_of_birth": child.date_of_birth,
        "email": child.email,
        "location": location,
        "grade_level": grade,
        "homeroom": child.homeroom,
        "academic_year": year,
        "enrollment_date": child.enrollment_date,
        "status": child.status,
        "referral_source": child.referral_source,
        "emergency_contact_name": f"{contact.first_name} {contact.last_name}" if contact else "",
        "emergency_contact_phone": contact.phone if contact else "",
        "emergency_contact_relationship": contact.relation if contact else "",
        "allergies": child.allergies,
        "medical_conditions": child.medical_conditions,
        "medications": child.medications,
        "internal_notes": f"Demo student created by manage.py seed [demo-seed {child.key}]",
        **family.address,
    }


def _seeded_keys() -> set[str]:
    notes = Student.all_objects.filter(internal_notes__contains="[demo-seed ").values_list("internal_notes", flat=True)
    return {match.group(1) for note in notes for match in MARKER.finditer(note)}


@seed_step("students and guardians", environments=DEMO_ENVIRONMENTS)
def seed_families(env: str, log: Log) -> None:
    """Admit every planned child that is not in the database yet; siblings share their
    guardians (the first admission creates them, the next ones link the same rows)."""
    tally = Tally()
    seeded = _seeded_keys()
    locations = {location.code: location for location in Location.objects.all()}
    grades = {grade.name: grade for grade in GradeLevel.objects.all()}
    year = demo_year(env)
    # dev: the plans' 2025-26 dates moved into the demo's year
    years = year.start_date.year - TEST_YEAR[1].year if env == "dev" and year is not None else 0
    today = timezone.localdate() if env == "dev" else None
    for family in family_plans(env, years=years, today=today):
        location = locations.get(family.location)
        if location is None:
            log(f"family {family.number}: no location {family.location}; skipped")
            continue
        for child in family.children:
            if child.key in seeded:
                tally.add("students", False)
                continue
            others = [
                _link_spec(plan, relationship_type)
                for plan, relationship_type in ((family.secondary, SECONDARY), (family.emergency, EMERGENCY))
                if plan is not None
            ]
            student_admit(
                actor=None,
                student_data=_student_data(
                    family, child, location=location, grade=grades.get(grade_name(child.grade)), year=year
                ),
                primary=_link_spec(family.primary, PRIMARY),
                others=others,
                notify_guardians=False,  # demo data: nobody to welcome
            )
            tally.add("students", True)
    tally.report(log)


@seed_step("parent portal logins", environments=DEMO_ENVIRONMENTS)
def seed_parent_logins(env: str, log: Log) -> None:
    tally = Tally()
    for username, email in DEMO_PARENTS:
        guardian = Guardian.objects.filter(email__iexact=email).first()
        if guardian is None:
            log(f"{username}: no guardian {email}; skipped")
            continue
        user, created = demo_user_ensure(
            username=username, first_name=guardian.first_name, last_name=guardian.last_name, email=guardian.email
        )
        tally.add("parent logins", created)
        if guardian.portal_user_id is None:
            guardian_set_portal_user(guardian=guardian, user=user, actor=None)
        elif guardian.portal_user_id != user.pk:
            log(f"{username}: {guardian} already has another portal login; left alone")
    tally.report(log)
