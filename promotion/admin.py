"""Promotion in the Django admin: runs, their preview and the records, read only (they
change through promotion.services), with history."""

from django.contrib import admin

from academy.common.admin import ReadOnlyAdmin, ReadOnlyHistoryAdmin
from promotion.models import PromotionProposal, PromotionRecord, PromotionRun


class PromotionProposalInline(admin.TabularInline):
    model = PromotionProposal
    fields = ("student", "from_grade", "to_grade", "outcome", "reason", "carry_amount", "override_outcome")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PromotionRun)
class PromotionRunAdmin(ReadOnlyHistoryAdmin):
    list_display = ("location", "from_year", "to_year", "state", "total", "done", "failed_count", "created_at")
    list_filter = ("state", "location")
    list_select_related = ("location", "from_year", "to_year")
    inlines = [PromotionProposalInline]


@admin.register(PromotionRecord)
class PromotionRecordAdmin(ReadOnlyHistoryAdmin):
    list_display = ("student", "from_year", "to_year", "from_grade", "to_grade", "outcome", "carried_amount")
    list_filter = ("outcome", "from_year")
    list_select_related = ("student", "from_year", "to_year", "from_grade", "to_grade")
    search_fields = ("student__student_number", "student__last_name")


@admin.register(PromotionProposal)
class PromotionProposalAdmin(ReadOnlyAdmin):
    list_display = ("run", "student", "outcome", "override_outcome", "carry_amount")
    list_filter = ("outcome",)
    list_select_related = ("run", "student")
