"""Forms of the staff portal's student pages. They check and convert input; the
services (``students.services``, ``families.services``) decide and write."""

from django import forms
from django.core.exceptions import ValidationError

from academy.common.widgets import guardian_picker
from academy.forms import DATE_INPUT, FieldSectionsMixin
from academy.selectors import academic_year_list, grade_level_list, location_list
from families.models import Guardian, StudentGuardian
from families.selectors import guardians_visible_to, student_medical_visible
from students.models import MEDICAL_FIELDS, MEDICAL_PERMISSION, Student
from students.services import STATUS_TRANSITIONS

STUDENT_SECTIONS = (
    ("Student", ("salutation", "first_name", "last_name", "preferred_name", "date_of_birth", "gender")),
    ("Contact", ("email", "phone")),
    ("Address", ("address_line1", "address_line2", "city", "state", "country", "postal_code")),
    ("Placement", ("location", "grade_level", "academic_year", "homeroom", "enrollment_date", "referral_source")),
    (
        "Emergency contact",
        ("emergency_contact_name", "emergency_contact_phone", "emergency_contact_relationship"),
    ),
    ("Medical", ("medical_conditions", "medications", "allergies")),
    ("Office", ("internal_notes",)),
)
GUARDIAN_FORM_FIELDS = ("salutation", "first_name", "last_name", "email", "phone", "preferred_communication")


class StudentForm(FieldSectionsMixin, forms.ModelForm):
    """The student's own fields (admission and edit). Location, grade and year choices
    come from the user's scope."""

    sections = STUDENT_SECTIONS

    class Meta:
        model = Student
        fields = [name for _, names in STUDENT_SECTIONS for name in names]
        widgets = {
            "date_of_birth": DATE_INPUT,
            "enrollment_date": DATE_INPUT,
            "medical_conditions": forms.Textarea(attrs={"rows": 2}),
            "medications": forms.Textarea(attrs={"rows": 2}),
            "allergies": forms.Textarea(attrs={"rows": 2}),
            "internal_notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = location_list(user=user).filter(is_active=True)
        self.fields["grade_level"].queryset = grade_level_list()
        self.fields["academic_year"].queryset = academic_year_list()
        self.fields["enrollment_date"].required = False
        self.fields["enrollment_date"].help_text = "Today when left empty."
        # medical details only for those who may see this student's (students_medical_visible_to)
        if self.instance.pk is None:
            may_see_medical = user.has_perm(MEDICAL_PERMISSION)
        else:
            may_see_medical = student_medical_visible(user=user, student=self.instance)
        if not may_see_medical:
            for name in MEDICAL_FIELDS:
                del self.fields[name]

    def _post_clean(self):
        """Model validation is the service's job (it runs it inside the transaction)."""

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("enrollment_date") is None:
            data.pop("enrollment_date", None)
        return data


class GuardianForm(FieldSectionsMixin, forms.ModelForm):
    """A new guardian in the admission: needed only when "A new guardian" is chosen, so
    its fields are marked as required in that case only (``required_when``)."""

    sections = (("Guardian", GUARDIAN_FORM_FIELDS),)
    use_required_attribute = False

    class Meta:
        model = Guardian
        fields = list(GUARDIAN_FORM_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required_when = "Required for a new guardian"

    def _post_clean(self):
        """Validated by ``guardian_create`` inside the admission."""


class GuardianChoiceForm(forms.Form):
    """Who the guardian is: an existing record (by number or name) or a new one."""

    NEW, EXISTING, NONE = "new", "existing", "none"

    mode = forms.ChoiceField(
        choices=[(NEW, "A new guardian"), (EXISTING, "A guardian already on file")],
        initial=NEW,
        widget=forms.RadioSelect,
    )
    existing = forms.ModelChoiceField(
        queryset=Guardian.objects.none(),
        required=False,
        label="Guardian on file",
        widget=guardian_picker(status=Guardian.AccountStatus.ACTIVE),
    )
    relation = forms.CharField(max_length=50, required=False, help_text="e.g. mother, grandfather")

    def __init__(self, *args, user, optional: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.optional = optional
        if optional:
            self.fields["mode"].choices = [(self.NONE, "No other guardian"), *self.fields["mode"].choices]
            self.fields["mode"].initial = self.NONE
            self.fields["relationship_type"] = forms.ChoiceField(
                choices=[
                    (value, label)
                    for value, label in StudentGuardian.RelationshipType.choices
                    if value != StudentGuardian.RelationshipType.PRIMARY
                ],
                initial=StudentGuardian.RelationshipType.SECONDARY,
            )
        self.fields["existing"].queryset = guardians_visible_to(user).filter(
            account_status=Guardian.AccountStatus.ACTIVE
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("mode") == self.EXISTING and not cleaned.get("existing"):
            self.add_error("existing", "Choose the guardian.")
        return cleaned


class AdmissionForm:
    """A student, the primary guardian (new or on file) and optionally one more."""

    def __init__(self, data=None, *, user):
        self.student = StudentForm(data, user=user, prefix="student")
        self.primary_choice = GuardianChoiceForm(data, user=user, prefix="primary")
        self.primary = GuardianForm(data, prefix="primary_new")
        self.other_choice = GuardianChoiceForm(data, user=user, prefix="other", optional=True)
        self.other = GuardianForm(data, prefix="other_new")
        self.non_field_errors: list[str] = []

    def _guardian_valid(self, choice_name: str, new_name: str) -> bool:
        """The choice is valid, and so is the new guardian's form when a new one is
        wanted; otherwise that form is put back unbound (keeping what was typed) so it
        shows no errors about fields nobody had to fill in."""
        choice, new = getattr(self, choice_name), getattr(self, new_name)
        if not choice.is_valid():
            return False
        if choice.cleaned_data["mode"] == GuardianChoiceForm.NEW:
            return new.is_valid()
        typed = {name: new[name].value() for name in new.fields}
        setattr(self, new_name, GuardianForm(prefix=new.prefix, initial=typed))
        return True

    def is_valid(self) -> bool:
        results = [
            self.student.is_valid(),
            self._guardian_valid("primary_choice", "primary"),
            self._guardian_valid("other_choice", "other"),
        ]
        return all(results)

    def guardian_specs(self):
        from families.services import GuardianLinkSpec

        specs = []
        for choice, new, default_type in (
            (self.primary_choice, self.primary, StudentGuardian.RelationshipType.PRIMARY),
            (self.other_choice, self.other, None),
        ):
            mode = choice.cleaned_data["mode"]
            if mode == GuardianChoiceForm.NONE:
                continue
            relationship_type = default_type or choice.cleaned_data["relationship_type"]
            flags = {"relation": choice.cleaned_data.get("relation", "")}
            if mode == GuardianChoiceForm.EXISTING:
                specs.append(GuardianLinkSpec(relationship_type, guardian=choice.cleaned_data["existing"], flags=flags))
            else:
                specs.append(GuardianLinkSpec(relationship_type, data=dict(new.cleaned_data), flags=flags))
        return specs

    def add_service_errors(self, error: ValidationError) -> None:
        """Put the admission service's errors next to the fields they are about."""
        messages = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        targets = {
            "primary_guardian": (self.primary_choice, self.primary),
            "guardians[0]": (self.other_choice, self.other),
        }
        for key, texts in messages.items():
            prefix, _, name = key.partition(".")
            if prefix in targets:
                choice, new = targets[prefix]
                form = new if name in new.fields else choice
                for text in texts:
                    form.add_error(name if name in form.fields else None, text)
            elif key in self.student.fields:
                for text in texts:
                    self.student.add_error(key, text)
            else:
                self.non_field_errors.extend(texts)

    @property
    def has_errors(self) -> bool:
        forms_ = (self.student, self.primary_choice, self.primary, self.other_choice, self.other)
        return bool(self.non_field_errors) or any(form.is_bound and form.errors for form in forms_)

    @property
    def error_count(self) -> int:
        forms_ = (self.student, self.primary_choice, self.primary, self.other_choice, self.other)
        return len(self.non_field_errors) + sum(len(form.errors) for form in forms_ if form.is_bound)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Student.Status.choices)
    reason = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"placeholder": "Why?"}))

    def __init__(self, *args, student: Student, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = STATUS_TRANSITIONS[Student.Status(student.status)]
        self.fields["status"].choices = [(v, label) for v, label in Student.Status.choices if v in allowed]


class DeleteForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Kept in the record's history.")
    confirm = forms.BooleanField(label="Yes, hide this student from every list")


class EditReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=200, required=False, help_text="Optional: shown in the history (e.g. “new address”)."
    )
