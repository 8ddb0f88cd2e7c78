"""Enrollments and the waitlist in Django admin: read and history only; every change
goes through ``enrollment.services`` (the staff portal and the API call them)."""

from django.contrib import admin

from academy.common.admin import ReadOnlyHistoryAdmin
from enrollment.models import Enrollment, WaitlistEntry


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyHistoryAdmin):
    list_display = ("student", "section", "term", "status", "enrollment_date", "sessions_remaining", "invoice")
    list_filter = ("status", "term")
    search_fields = ("student__student_number", "student__last_name", "section__course__code")
    list_select_related = (
        "student",
        "section__course",
        "section__term__academic_year",
        "term__academic_year",
        "invoice",
    )
    raw_id_fields = ("student", "section", "invoice")


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyHistoryAdmin):
    list_display = ("section", "position", "student", "status", "offer_expires_at")
    list_filter = ("status",)
    search_fields = ("student__student_number", "student__last_name")
    list_select_related = ("student", "section__course", "section__term__academic_year")
    raw_id_fields = ("student", "section", "enrollment")
