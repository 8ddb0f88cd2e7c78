"""Forms of the staff promotion pages. They check the shape of the input and offer only
what the user may see; ``promotion.services`` decide and write."""

from django import forms

from academy.selectors import academic_year_list, grade_level_list, location_list
from promotion.models import Outcome

OVERRIDE_OUTCOMES = [
    (Outcome.PROMOTED, Outcome.PROMOTED.label),
    (Outcome.DETAINED, Outcome.DETAINED.label),
    (Outcome.GRADUATED, Outcome.GRADUATED.label),
    (Outcome.LEFT, Outcome.LEFT.label),
]


class RunForm(forms.Form):
    """A new run in one page: where, from which year into which, which grades, and the
    rules of eligibility and carry-forward."""

    location = forms.ModelChoiceField(queryset=None, empty_label="Choose a location")
    from_year = forms.ModelChoiceField(queryset=None, label="From year", empty_label="Choose a year")
    to_year = forms.ModelChoiceField(queryset=None, label="Into year", empty_label="Choose a year")
    grades = forms.ModelMultipleChoiceField(
        queryset=None, required=False, help_text="Only these grades; none chosen: every grade."
    )
    min_attendance = forms.DecimalField(
        label="Minimum attendance (%)",
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        required=False,
        help_text="Empty: the location's eligibility threshold.",
    )
    max_failed_results = forms.IntegerField(
        label="Failed results allowed",
        min_value=0,
        max_value=100,
        required=False,
        help_text="At most this many failed published results (0: all passing); empty: results are ignored.",
    )
    hold_detains = forms.BooleanField(label="A finance hold detains the student", required=False)
    carry_forward = forms.BooleanField(label="Carry open balances into the new year", required=False, initial=True)

    service_field_aliases = {"grade_map": "grades", "students": None}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = location_list(user=user).filter(is_active=True).order_by("name")
        years = academic_year_list().order_by("-start_date")
        self.fields["from_year"].queryset = years
        self.fields["to_year"].queryset = years
        self.fields["grades"].queryset = grade_level_list().order_by("order")

    def clean(self):
        data = super().clean()
        if data.get("from_year") and data.get("from_year") == data.get("to_year"):
            self.add_error("to_year", "The run moves students into another year.")
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "location": data["location"],
            "from_year": data["from_year"],
            "to_year": data["to_year"],
            "grades": list(data["grades"]),
            "min_attendance": data["min_attendance"],
            "max_failed_results": data["max_failed_results"],
            "hold_detains": data["hold_detains"],
            "carry_forward": data["carry_forward"],
        }


class PreviewFilterForm(forms.Form):
    """The preview table: by final outcome and by the grade promoted from."""

    outcome = forms.ChoiceField(choices=[("", "Any outcome"), *Outcome.choices], required=False)
    grade = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any grade")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grade"].queryset = grade_level_list().order_by("order")


class OverrideForm(forms.Form):
    """One student's outcome changed by the office, with the reason (required)."""

    outcome = forms.ChoiceField(choices=[("", "Choose an outcome"), *OVERRIDE_OUTCOMES])
    reason = forms.CharField(
        max_length=300,
        error_messages={"required": "Say why this student's outcome is changed."},
    )
