"""The roles of the academy, as Django groups, and the permissions each holds.

The groups are created by a migration; ``roles_sync`` (run after every migrate)
gives each group the permissions below, so apps added later extend them here.
"""

ACADEMY_ADMIN = "Academy admin"
OFFICE_STAFF = "Office staff"
FINANCE = "Finance"
INSTRUCTOR = "Instructor"
PARENT = "Parent"

STAFF_ROLES = frozenset({ACADEMY_ADMIN, OFFICE_STAFF, FINANCE, INSTRUCTOR})
ALL_ROLES = (ACADEMY_ADMIN, OFFICE_STAFF, FINANCE, INSTRUCTOR, PARENT)

DOMAIN_APPS = (
    "academy",
    "students",
    "families",
    "notifications",
    "finance",
    "enrollment",
    "attendance",
    "grading",
    "promotion",
)
STRUCTURE_MODELS = (
    "location",
    "facility",
    "academicyear",
    "term",
    "gradelevel",
    "program",
    "course",
    "curriculum",
    "curriculumlevel",
    "curriculummodule",
    "skillarea",
    "section",
    "classsession",
)


def _view(app: str, *models: str) -> set[str]:
    return {f"{app}.view_{model}" for model in models}


def _manage(app: str, *models: str, delete: bool = False) -> set[str]:
    actions = ("view", "add", "change", "delete") if delete else ("view", "add", "change")
    return {f"{app}.{action}_{model}" for model in models for action in actions}


# ACADEMY_ADMIN holds every permission of the domain apps (resolved in roles_sync).
ROLE_PERMISSIONS: dict[str, set[str]] = {
    OFFICE_STAFF: (
        _view("academy", *STRUCTURE_MODELS)
        | _manage("students", "student")
        | {"students.view_student_medical"}  # who sees them: families.selectors.students_medical_visible_to
        | _manage("students", "locationtransfer")  # request; approving needs students.approve_locationtransfer
        | _manage("families", "guardian")
        | _manage("families", "studentguardian", delete=True)
        | _view("finance", "invoice", "payment", "feestructure", "feetype")
        | {"finance.add_payment"}
        | {"finance.view_sessionpackage", "finance.add_sessionpackage"}  # the desk sells packages
        | _manage("enrollment", "enrollment", "waitlistentry")
        | _manage("attendance", "attendancerecord", delete=True)
        | _manage("attendance", "makeupcredit")
        # the registrar's work: gradebooks, publishing, freezing, deciding change requests
        | _manage("grading", "assessment", "score", "skillrating", delete=True)
        | _view("grading", "gradescale", "gradeband")
        | _manage("grading", "result", "resultchange")
        | {
            "grading.publish_result",
            "grading.freeze_result",
            "grading.approve_resultchange",
            "grading.override_eligibility",
        }
        # document requests: the queue, approving, rejecting, completing; issuing transcripts
        | _manage("grading", "documentrequest")
        | _view("grading", "issueddocument")
        # year-end promotion: create, preview, override; approving needs
        # promotion.approve_promotionrun (the academy admin) and another person
        | _manage("promotion", "promotionrun", "promotionproposal")
        | _view("promotion", "promotionrecord")
    ),
    FINANCE: (
        _view("academy", *STRUCTURE_MODELS)
        | _view("students", "student")
        | _view("families", "guardian", "studentguardian")
        | _manage("finance", "feetype", "feestructure", "invoice", "adjustment", "financepolicy")
        | _manage("finance", "sessionpackage")  # change: cancel a package
        | _view("finance", "payment", "paymentallocation", "ledgerentry", "studentaccount", "refund")
        | {
            "finance.add_payment",
            "finance.add_refund",
            "finance.add_paymentreversal",
            "finance.add_paymentverification",
            "finance.approve_adjustment",
        }
        | _view("enrollment", "enrollment", "waitlistentry")
        | _view("attendance", "attendancerecord", "makeupcredit")
    ),
    INSTRUCTOR: _view("academy", *STRUCTURE_MODELS)
    # the students they teach only (families.selectors.students_visible_to), with their
    # medical details (a child's allergies matter in class); finance never sees them
    | _view("students", "student")
    | {"students.view_student_medical"}
    | _view("enrollment", "enrollment", "waitlistentry")
    # instructors mark attendance in the sections they teach (academy.selectors.section_list)
    | _manage("attendance", "attendancerecord")
    | _view("attendance", "makeupcredit")
    # the sections they teach only: gradebooks, skill ratings, publishing; they request
    # grade changes but never decide them
    | _manage("grading", "assessment", "score", "skillrating", delete=True)
    | _view("grading", "gradescale", "gradeband", "result")
    | {"grading.change_result", "grading.publish_result", "grading.view_resultchange", "grading.add_resultchange"},
    PARENT: set(),
}
