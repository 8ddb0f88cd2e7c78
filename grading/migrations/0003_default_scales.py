"""The grade scales every academy starts with (docs/rules.md, Grading): letters A-F with
grade points (the default), and pass/fail for activity programmes."""

from django.db import migrations

LETTERS = [("A", "90", "4.00", True), ("B", "80", "3.00", True), ("C", "70", "2.00", True),
           ("D", "60", "1.00", True), ("F", "0", "0.00", False)]
PASS_FAIL = [("Pass", "50", "0.00", True), ("Fail", "0", "0.00", False)]


def create(apps, schema_editor):
    GradeScale = apps.get_model("grading", "GradeScale")
    GradeBand = apps.get_model("grading", "GradeBand")
    for name, is_default, bands in (("Letter grades A-F", True, LETTERS), ("Pass/fail", False, PASS_FAIL)):
        scale, created = GradeScale.objects.get_or_create(name=name, defaults={"is_default": is_default})
        if created:
            GradeBand.objects.bulk_create(
                GradeBand(scale=scale, letter=letter, min_percentage=floor, grade_points=points, passed=passed)
                for letter, floor, points, passed in bands
            )


class Migration(migrations.Migration):
    dependencies = [("grading", "0002_result_guard")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
