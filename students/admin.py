from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from academy.common.admin import ContributedInlinesMixin, ServiceAdminMixin
from students.models import LocationTransfer, Student


@admin.register(Student)
class StudentAdmin(ServiceAdminMixin, ContributedInlinesMixin, SimpleHistoryAdmin):
    """Students are admitted with a primary guardian through the staff portal or API
    (``families.services.student_admit``); here staff view and correct records. The
    families app contributes the guardians inline (``academy.common.admin``)."""

    list_display = ("student_number", "last_name", "first_name", "location", "grade_level", "status", "enrollment_date")
    list_filter = ("status", "location", "grade_level", "academic_year")
    search_fields = ("student_number", "first_name", "last_name", "email", "phone")
    list_select_related = ("location", "grade_level")
    readonly_fields = ("student_number", "created_at", "updated_at", "created_by", "updated_by", "deleted_at")
    fieldsets = (
        (None, {"fields": ("student_number", "status", "deleted_at")}),
        ("Profile", {"fields": ("salutation", "first_name", "last_name", "preferred_name", "date_of_birth", "gender")}),
        (
            "Contact",
            {"fields": ("email", "phone", "address_line1", "address_line2", "city", "state", "country", "postal_code")},
        ),
        (
            "Academy",
            {
                "fields": (
                    "location",
                    "previous_location",
                    "grade_level",
                    "homeroom",
                    "academic_year",
                    "enrollment_date",
                    "referral_source",
                )
            },
        ),
        (
            "Emergency contact",
            {"fields": ("emergency_contact_name", "emergency_contact_phone", "emergency_contact_relationship")},
        ),
        ("Medical", {"fields": ("medical_conditions", "medications", "allergies")}),
        ("Staff only", {"fields": ("internal_notes",)}),
        ("Record", {"fields": ("created_at", "created_by", "updated_at", "updated_by")}),
    )

    def has_add_permission(self, request):
        return False  # admission needs a primary guardian: staff portal or API

    def has_delete_permission(self, request, obj=None):
        return False  # soft delete only

    def save_model(self, request, obj, form, change):
        from students.services import student_change

        data = {name: form.cleaned_data[name] for name in form.changed_data if name != "status"}
        status = form.cleaned_data["status"] if "status" in form.changed_data else None
        student_change(student=obj, actor=request.user, data=data, status=status, reason="Changed in admin")


@admin.register(LocationTransfer)
class LocationTransferAdmin(SimpleHistoryAdmin):
    """Location transfers: read and history here. Requests, approval and applying go
    through ``enrollment.transfers`` (the staff portal and the API call it), which
    assesses the impact and moves enrollments and money; admin cannot do that."""

    list_display = (
        "transfer_number",
        "student",
        "from_location",
        "to_location",
        "transfer_type",
        "effective_date",
        "status",
        "requested_by",
        "approved_by",
    )
    list_filter = ("status", "transfer_type", "from_location", "to_location")
    search_fields = ("transfer_number", "student__student_number", "student__last_name", "reason")
    list_select_related = ("student", "from_location", "to_location", "requested_by", "approved_by")
    raw_id_fields = ("student",)
    readonly_fields = (
        "transfer_number",
        "affected_enrollments",
        "affected_sessions",
        "financial_impact",
        "account_balance",
        "impact_details",
        "financial_notes",
        "assessed_at",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False  # requested through the staff portal or API (impact assessment, numbering)

    def has_change_permission(self, request, obj=None):
        return False  # status changes are services: approve, reject, apply

    def has_delete_permission(self, request, obj=None):
        return False
