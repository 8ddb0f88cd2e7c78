"""Forms of the staff portal's enrollment pages. They check the shape of the input and
offer only the students and sections the user may see; ``enrollment.services`` decide
(capacity, closed terms, finance holds, ...) and write."""

from django import forms
from django.db.models import Case, IntegerField, QuerySet, Value, When

from academy.common.money import MoneyFormField
from academy.common.widgets import student_picker
from academy.forms import DATE_INPUT, FieldSectionsMixin
from academy.models import Section
from academy.selectors import section_list
from enrollment.models import Enrollment
from enrollment.selectors import sections_open_for_enrollment, sections_with_seats
from families.selectors import students_visible_to
from students.models import Student
from students.selectors import student_search

MATCHES_SHOWN = 5


def seats_left(section: Section) -> int:
    """Free seats of a section annotated by ``sections_with_seats``."""
    taken = (getattr(section, "enrolled_count", 0) or 0) + (getattr(section, "offered_count", 0) or 0)
    return max(section.capacity - taken, 0)


def section_label(section: Section) -> str:
    """ "SWIM-1-A Swim level 1 · 2025-26 Autumn · Mon 16:00 — 3 seats left"."""
    free = seats_left(section)
    waiting = getattr(section, "waitlist_count", 0) or 0
    seats = f"{free} seat{'s' if free != 1 else ''} left"
    if not free:
        seats = f"full, {waiting} waiting" if waiting else "full"
    parts = [f"{section.course.code}-{section.code} {section.course.title}", str(section.term)]
    if section.schedule:
        parts.append(section.schedule)
    return f"{' · '.join(parts)} — {seats}"


class SectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return section_label(obj)


def open_sections(*, user, location_id) -> QuerySet[Section]:
    """Sections of terms open for enrollment (open and not ended) at ``location_id`` that
    ``user`` may see, with their seats."""
    sections = sections_open_for_enrollment(section_list(user=user).filter(location_id=location_id))
    return sections_with_seats(sections).order_by("term__start_date", "course__code", "code")


class EnrollmentOptionsForm(FieldSectionsMixin, forms.Form):
    """What an enrollment may set besides the student and the section (all optional)."""

    start_date = forms.DateField(
        required=False, widget=DATE_INPUT, help_text="Empty: today, or the first day of the term if later."
    )
    enrollment_fee = MoneyFormField(
        min_value=0,
        required=False,
        help_text="Empty: the location's enrollment fee for the course (none if there is no fee structure).",
    )
    session_rate = MoneyFormField(
        min_value=0,
        required=False,
        help_text="Price per session. With a rate, the sessions ahead are billed on the same invoice.",
    )
    notes = forms.CharField(max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    waitlist = forms.BooleanField(required=False, initial=True, label="Put on the waitlist if the section is full")

    def service_options(self) -> dict:
        """Keyword arguments of ``enrollment.services.enroll`` (empty ones left to it)."""
        data = self.cleaned_data
        options = {"waitlist": data["waitlist"], "notes": data["notes"]}
        for name in ("start_date", "enrollment_fee", "session_rate"):
            if data.get(name) is not None:
                options[name] = data[name]
        return options


class SectionEnrollForm(EnrollmentOptionsForm):
    """Enroll a student into the roster's section: the student by number or name."""

    sections = (
        ("Student", ("student", "waitlist")),
        ("Enrollment", ("start_date", "enrollment_fee", "session_rate", "notes")),
    )
    service_field_aliases = {"section": "student"}

    student = forms.CharField(
        max_length=100,
        label="Student number or name",
        help_text="e.g. STU-2025-0012, or a first and last name.",
        widget=student_picker(),
    )

    def __init__(self, *args, user, section: Section, **kwargs):
        super().__init__(*args, **kwargs)
        self.section = section
        self.fields["student"].widget.params["location"] = section.location_id
        self.students = students_visible_to(user).filter(location_id=section.location_id)

    def clean_student(self) -> Student:
        text = self.cleaned_data["student"].strip()
        exact = list(self.students.filter(student_number__iexact=text)[:2])
        if len(exact) == 1:
            return exact[0]
        matches = list(student_search(self.students, text).order_by("last_name", "first_name")[: MATCHES_SHOWN + 1])
        if not matches:
            raise forms.ValidationError(f"No student at {self.section.location.name} matches “{text}”.")
        if len(matches) > 1:
            shown = ", ".join(f"{s.student_number} {s.full_name}" for s in matches[:MATCHES_SHOWN])
            more = " and more" if len(matches) > MATCHES_SHOWN else ""
            raise forms.ValidationError(f"Several students match: {shown}{more}. Enter the student number.")
        return matches[0]


class StudentEnrollForm(EnrollmentOptionsForm):
    """Enroll the student of the page into a section of an open term at their location."""

    sections = (
        ("Class", ("section", "waitlist")),
        ("Enrollment", ("start_date", "enrollment_fee", "session_rate", "notes")),
    )

    section = SectionChoiceField(queryset=None, empty_label="Choose a class…")

    def __init__(self, *args, user, student: Student, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["section"].queryset = open_sections(user=user, location_id=student.location_id)


class PauseForm(forms.Form):
    reason = forms.CharField(
        max_length=300, widget=forms.TextInput(), help_text="e.g. Family holiday until October; injury."
    )


class WithdrawForm(FieldSectionsMixin, forms.Form):
    sections = (("Withdraw", ("reason", "end_date")),)

    reason = forms.CharField(max_length=300, widget=forms.TextInput(), help_text="e.g. Moved away.")
    end_date = forms.DateField(
        required=False, widget=DATE_INPUT, help_text="The last day. Empty: today (or the start date, if later)."
    )


class TransferForm(FieldSectionsMixin, forms.Form):
    """Move the enrollment to another section of an open term at the student's location;
    the other sections of the same course and term come first."""

    sections = (("Transfer", ("section", "reason")),)

    section = SectionChoiceField(queryset=None, label="To the class", empty_label="Choose a class…")
    reason = forms.CharField(max_length=300, required=False, widget=forms.TextInput())

    def __init__(self, *args, user, enrollment: Enrollment, **kwargs):
        super().__init__(*args, **kwargs)
        same_class = Case(
            When(course_id=enrollment.section.course_id, term_id=enrollment.term_id, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        sections = (
            open_sections(user=user, location_id=enrollment.student.location_id)
            .exclude(pk=enrollment.section_id)
            .order_by(same_class, "term__start_date", "course__code", "code")
        )
        self.fields["section"].queryset = sections


class WaitlistMoveForm(forms.Form):
    position = forms.IntegerField(min_value=1, max_value=100_000)


class WaitlistRemoveForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False)
