"""Forms of the staff report-card page (shape only; ``grading.report_cards`` decides)."""

from django import forms

from academy.common.widgets import student_picker
from academy.forms import FieldSectionsMixin
from academy.selectors import grade_level_list, location_list, section_list, term_list
from families.selectors import students_visible_to


def _section_label(section) -> str:
    return f"{section.course.code}-{section.code} {section.course.title} · {section.term} · {section.location.name}"


def _terms():
    return term_list().order_by("-start_date")


class ReportCardStudentForm(FieldSectionsMixin, forms.Form):
    """One student's report card: the student (those the user may see) and the term."""

    sections = (("One student", ("student", "term")),)

    student = forms.ModelChoiceField(queryset=None, widget=student_picker())
    term = forms.ModelChoiceField(queryset=None, empty_label="Choose…")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["student"].queryset = students_visible_to(user)
        self.fields["term"].queryset = _terms()


class ReportCardBatchForm(FieldSectionsMixin, forms.Form):
    """Many report cards as one job: a section, or a grade level (at a location, or
    at every location the user may see), or a whole location; for a term."""

    SCOPES = (("section", "A section"), ("grade_level", "A grade level"), ("location", "A location"))
    sections = (
        ("Report cards of", ("term", "scope")),
        ("Which", ("section", "grade_level", "location")),
    )

    term = forms.ModelChoiceField(queryset=None, empty_label="Choose…")
    scope = forms.ChoiceField(choices=SCOPES, initial="section", widget=forms.RadioSelect)
    section = forms.ModelChoiceField(queryset=None, required=False, empty_label="Choose…")
    grade_level = forms.ModelChoiceField(queryset=None, required=False, empty_label="Choose…")
    location = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Every location I may see",
        help_text="With a grade level: narrows it to one location.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["term"].queryset = _terms()
        self.fields["section"].queryset = section_list(user=user).order_by(
            "-term__start_date", "course__code", "code", "location__name"
        )
        self.fields["section"].label_from_instance = _section_label
        self.fields["grade_level"].queryset = grade_level_list()
        self.fields["location"].queryset = location_list(user=user).filter(is_active=True)

    def clean(self):
        cleaned = super().clean()
        scope = cleaned.get("scope")
        if scope == "section":
            cleaned["grade_level"] = cleaned["location"] = None
            if cleaned.get("section") is None and "section" not in self.errors:
                self.add_error("section", "Choose the section.")
        elif scope == "grade_level":
            cleaned["section"] = None
            if cleaned.get("grade_level") is None and "grade_level" not in self.errors:
                self.add_error("grade_level", "Choose the grade level.")
        elif scope == "location":
            cleaned["section"] = cleaned["grade_level"] = None
            if cleaned.get("location") is None and "location" not in self.errors:
                self.add_error("location", "Choose the location.")
        term, section = cleaned.get("term"), cleaned.get("section")
        if term is not None and section is not None and section.term_id != term.pk:
            self.add_error("section", "The section belongs to another term.")
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {name: data.get(name) for name in ("term", "section", "grade_level", "location")}
