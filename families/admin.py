from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from academy.common.admin import ServiceAdminMixin, inline_contribute
from families.models import Guardian, StudentGuardian
from students.models import Student


class GuardianLinkInline(admin.TabularInline):
    """Guardians on the student page. Links are changed through the families services
    (the primary guardian is swapped, never removed)."""

    model = StudentGuardian
    fk_name = "student"
    extra = 0
    fields = (
        "guardian",
        "relationship_type",
        "relation",
        "can_pick_up",
        "can_authorize_medical",
        "receives_communications",
        "is_financially_responsible",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ChildLinkInline(GuardianLinkInline):
    fk_name = "guardian"
    fields = (
        "student",
        "relationship_type",
        "relation",
        "can_pick_up",
        "can_authorize_medical",
        "receives_communications",
        "is_financially_responsible",
    )
    readonly_fields = fields


# on the student page of students.admin, which families does not import
inline_contribute(Student, GuardianLinkInline)


@admin.register(Guardian)
class GuardianAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = (
        "guardian_number",
        "last_name",
        "first_name",
        "email",
        "phone",
        "preferred_communication",
        "account_status",
    )
    list_filter = ("account_status", "preferred_communication")
    search_fields = ("guardian_number", "first_name", "last_name", "email", "phone")
    readonly_fields = ("guardian_number", "created_at", "updated_at", "created_by", "updated_by")
    raw_id_fields = ("portal_user",)
    inlines = [ChildLinkInline]

    def save_model(self, request, obj, form, change):
        from families.services import guardian_create, guardian_set_portal_user, guardian_update

        data = {name: form.cleaned_data[name] for name in form.changed_data if name != "portal_user"}
        if change:
            saved = guardian_update(guardian=obj, actor=request.user, data=data, reason="Changed in admin")
        else:
            saved = guardian_create(actor=request.user, data=data)
        if "portal_user" in form.changed_data:
            saved = guardian_set_portal_user(guardian=saved, user=form.cleaned_data["portal_user"], actor=request.user)
        obj.pk = saved.pk


@admin.register(StudentGuardian)
class StudentGuardianAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = (
        "student",
        "guardian",
        "relationship_type",
        "relation",
        "can_pick_up",
        "can_authorize_medical",
        "receives_communications",
        "is_financially_responsible",
    )
    list_filter = ("relationship_type", "is_financially_responsible")
    search_fields = (
        "student__student_number",
        "student__last_name",
        "guardian__guardian_number",
        "guardian__last_name",
    )
    list_select_related = ("student", "guardian")
    raw_id_fields = ("student", "guardian")
    readonly_fields = ("student", "guardian", "relationship_type", "created_by")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.relationship_type != StudentGuardian.RelationshipType.PRIMARY

    def save_model(self, request, obj, form, change):
        from families.services import student_guardian_update

        student_guardian_update(
            link=obj, actor=request.user, data={name: form.cleaned_data[name] for name in form.changed_data}
        )

    def delete_model(self, request, obj):
        from families.services import student_guardian_unlink

        student_guardian_unlink(link=obj, actor=request.user)
