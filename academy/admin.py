from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from academy import models
from academy.common.admin import ReadOnlyAdmin, ServiceAdminMixin
from academy.common.models import NumberSequence
from academy.forms import LoginLimitFormMixin


class AcademyAdminAuthenticationForm(LoginLimitFormMixin, AdminAuthenticationForm):
    """The admin's login says how long to wait after too many failures, like the portals'."""


admin.site.login_form = AcademyAdminAuthenticationForm


@admin.register(models.User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups", "locations")
    filter_horizontal = ("groups", "user_permissions", "locations")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Academy", {"fields": ("locations",)}))


class FacilityInline(admin.TabularInline):
    model = models.Facility
    extra = 0


@admin.register(models.Location)
class LocationAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "phone", "email", "is_active", "billing_day")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    inlines = [FacilityInline]


@admin.register(models.Facility)
class FacilityAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "location", "kind", "capacity", "is_active")
    list_filter = ("location", "kind", "is_active")
    search_fields = ("code", "name")
    list_select_related = ("location",)


class TermInline(admin.TabularInline):
    model = models.Term
    extra = 0


@admin.register(models.AcademicYear)
class AcademicYearAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "start_date", "end_date", "is_current")
    list_filter = ("is_current",)
    search_fields = ("name",)
    inlines = [TermInline]

    def save_model(self, request, obj, form, change):
        from academy.services import structure_save

        structure_save(instance=obj)


@admin.register(models.Term)
class TermAdmin(SimpleHistoryAdmin):
    list_display = ("name", "academic_year", "start_date", "end_date", "status")
    list_filter = ("academic_year", "status")
    search_fields = ("name",)
    list_select_related = ("academic_year",)


@admin.register(models.GradeLevel)
class GradeLevelAdmin(SimpleHistoryAdmin):
    list_display = ("order", "name", "next_grade")
    list_select_related = ("next_grade",)
    search_fields = ("name",)


class CourseInline(admin.TabularInline):
    model = models.Course
    extra = 0
    fields = ("code", "title", "credits", "grade_level", "is_active")


@admin.register(models.Program)
class ProgramAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    inlines = [CourseInline]


@admin.register(models.Course)
class CourseAdmin(SimpleHistoryAdmin):
    list_display = ("code", "title", "program", "credits", "grade_level", "is_active")
    list_filter = ("program", "grade_level", "is_active")
    search_fields = ("code", "title")
    list_select_related = ("program", "grade_level")


class CurriculumLevelInline(admin.TabularInline):
    model = models.CurriculumLevel
    extra = 0


class SkillAreaInline(admin.TabularInline):
    model = models.SkillArea
    extra = 0


@admin.register(models.Curriculum)
class CurriculumAdmin(SimpleHistoryAdmin):
    list_display = ("name", "course")
    list_select_related = ("course",)
    search_fields = ("name", "course__code")
    inlines = [CurriculumLevelInline, SkillAreaInline]


class CurriculumModuleInline(admin.TabularInline):
    model = models.CurriculumModule
    extra = 0


@admin.register(models.CurriculumLevel)
class CurriculumLevelAdmin(SimpleHistoryAdmin):
    list_display = ("name", "curriculum", "order")
    list_select_related = ("curriculum",)
    inlines = [CurriculumModuleInline]


@admin.register(models.CurriculumModule)
class CurriculumModuleAdmin(SimpleHistoryAdmin):
    list_display = ("name", "level", "order")
    list_select_related = ("level__curriculum",)


@admin.register(models.SkillArea)
class SkillAreaAdmin(SimpleHistoryAdmin):
    list_display = ("name", "curriculum")
    list_select_related = ("curriculum",)
    search_fields = ("name",)


class ClassSessionInline(admin.TabularInline):
    model = models.ClassSession
    extra = 0
    fields = ("date", "start_time", "end_time", "facility", "is_cancelled")


@admin.register(models.Section)
class SectionAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = ("__str__", "location", "instructor", "facility", "capacity", "schedule")
    list_filter = ("location", "term", "course__program")
    search_fields = ("course__code", "course__title", "code")
    list_select_related = ("course", "term__academic_year", "location", "instructor", "facility")
    autocomplete_fields = ("course", "instructor")
    inlines = [ClassSessionInline]

    def save_model(self, request, obj, form, change):
        # through the service: a raised capacity offers the new seats to the waitlist
        from academy.services import structure_save

        structure_save(instance=obj, actor=request.user)


@admin.register(models.ClassSession)
class ClassSessionAdmin(SimpleHistoryAdmin):
    list_display = ("section", "date", "start_time", "end_time", "facility", "is_cancelled")
    list_filter = ("section__location", "is_cancelled", "date")
    list_select_related = ("section__course", "section__term__academic_year", "facility__location")
    date_hierarchy = "date"


@admin.register(NumberSequence)
class NumberSequenceAdmin(admin.ModelAdmin):
    list_display = ("key", "last_value")
    readonly_fields = ("key", "last_value")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: the audit log is evidence."""

    list_display = ("created_at", "actor_username", "interface", "method", "path", "status_code")
    list_filter = ("interface", "method", "status_code")
    search_fields = ("actor_username", "path", "summary")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in models.AuditLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Job)
class JobAdmin(ReadOnlyAdmin):
    """Long jobs (report cards, and later billing, imports, promotion) as they ran: started,
    watched and cancelled from the staff portal (academy.jobs), read here."""

    list_display = ("title", "kind", "state", "done", "total", "failed_count", "attempts", "created_by", "created_at")
    list_filter = ("kind", "state")
    search_fields = ("title", "message")
    date_hierarchy = "created_at"
