"""The grade scales every academy starts with (docs/rules.md, Grading): letters A-F with
grade points (the default), and pass/fail (outside the GPA) for activity programmes.
Created by migration 0003 and again after every migrate or flush (grading.apps), never
changed once they exist."""

LETTERS = [
    ("A", "90", "4.00", True),
    ("B", "80", "3.00", True),
    ("C", "70", "2.00", True),
    ("D", "60", "1.00", True),
    ("F", "0", "0.00", False),
]
PASS_FAIL = [("Pass", "50", "0.00", True), ("Fail", "0", "0.00", False)]
SCALES = (("Letter grades A-F", True, True, LETTERS), ("Pass/fail", False, False, PASS_FAIL))


def create(apps, schema_editor, using="default"):
    GradeScale = apps.get_model("grading", "GradeScale")
    GradeBand = apps.get_model("grading", "GradeBand")
    has_gpa_flag = any(f.name == "counts_in_gpa" for f in GradeScale._meta.get_fields())
    for name, is_default, in_gpa, bands in SCALES:
        if GradeScale.objects.using(using).filter(name=name).exists():
            continue
        if is_default and GradeScale.objects.using(using).filter(is_default=True).exists():
            is_default = False  # the academy chose another default
        fields = {"name": name, "is_default": is_default}
        if has_gpa_flag:
            fields["counts_in_gpa"] = in_gpa
        scale = GradeScale.objects.using(using).create(**fields)
        GradeBand.objects.using(using).bulk_create(
            GradeBand(scale=scale, letter=letter, min_percentage=floor, grade_points=points, passed=passed)
            for letter, floor, points, passed in bands
        )
