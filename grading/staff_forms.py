"""Forms of the staff portal's grading pages. They check the shape of the input and offer
only what the user may see; ``grading.services`` decide and write. The gradebook itself
is not a Django form: its cells are read by ``grading.staff_views.posted_cells``."""

from django import forms

from academy.forms import DATE_INPUT, FieldSectionsMixin
from academy.selectors import location_list, term_list
from grading import services
from grading.models import Assessment, ResultChange


class GradebookFilterForm(forms.Form):
    """The gradebooks list: the sections of a term and/or a location."""

    term = forms.ModelChoiceField(queryset=None, required=False, empty_label="All terms")
    location = forms.ModelChoiceField(queryset=None, required=False, empty_label="All my locations")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["term"].queryset = term_list().order_by("-start_date", "name")
        self.fields["location"].queryset = location_list(user=user).order_by("name")


class ChangeQueueFilterForm(GradebookFilterForm):
    """The change-request queue: by status, term and location (pending first)."""

    status = forms.ChoiceField(choices=[("", "Any status"), *ResultChange.Status.choices], required=False)

    field_order = ["status", "term", "location"]


class AssessmentForm(FieldSectionsMixin, forms.Form):
    """An assessment of a section. The section's weights total at most 100 and the title
    is unique in the section: ``grading.services`` says so next to the field."""

    sections = (("Assessment", ("title", "type", "date", "weight", "max_score")),)

    title = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=Assessment.Type.choices, initial=Assessment.Type.QUIZ)
    date = forms.DateField(required=False, widget=DATE_INPUT)
    weight = forms.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        error_messages={"min_value": services.WEIGHT_MESSAGE, "max_value": services.WEIGHT_MESSAGE},
        label="Weight (%)",
        help_text="Percent of the final grade; the section's weights total 100 to publish.",
    )
    max_score = forms.DecimalField(max_digits=7, decimal_places=2, initial=100, label="Maximum score")


class ChangeRequestForm(forms.Form):
    """A new grade from the result's scale (not its current one) and why."""

    new_grade = forms.ChoiceField(label="New grade")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Someone other than you decides; the reason is kept with the grade's history.",
    )

    def __init__(self, *args, result, **kwargs):
        super().__init__(*args, **kwargs)
        bands = list(result.scale.bands.all()) if result.scale_id else []
        self.fields["new_grade"].choices = [("", "Choose a grade")] + [
            (band.letter, f"{band.letter} (from {_percent(band.min_percentage)}%)")
            for band in bands
            if band.letter != result.letter_grade
        ]


def _percent(value) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class DecisionForm(forms.Form):
    """The note of an approval (optional) or a rejection (required by the service)."""

    note = forms.CharField(max_length=300, required=False)
