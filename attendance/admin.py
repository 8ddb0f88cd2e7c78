"""Attendance in Django admin: read and history only; every change goes through
``attendance.services`` (the staff portal and the API call them), because a mark moves
session counts and make-up credits."""

from django.contrib import admin

from academy.common.admin import ReadOnlyHistoryAdmin
from attendance.models import AttendanceRecord, MakeupCredit


@admin.register(AttendanceRecord)
class AttendanceRecordAdmin(ReadOnlyHistoryAdmin):
    list_display = ("session_date", "student", "class_session", "status", "consumed_from", "is_makeup", "recorded_by")
    list_filter = ("status", "consumed_from", "is_makeup")
    date_hierarchy = "session_date"
    search_fields = ("student__student_number", "student__last_name")
    list_select_related = ("student", "class_session__section__course", "class_session__section__term", "recorded_by")
    raw_id_fields = ("student", "class_session", "enrollment", "original_session", "package")


@admin.register(MakeupCredit)
class MakeupCreditAdmin(ReadOnlyHistoryAdmin):
    list_display = ("student", "missed_session", "status", "expires_on", "booked_session")
    list_filter = ("status",)
    search_fields = ("student__student_number", "student__last_name")
    list_select_related = (
        "student",
        "missed_session__section__course",
        "missed_session__section__term",
        "booked_session__section__course",
        "booked_session__section__term",
    )
    raw_id_fields = ("student", "enrollment", "missed_session", "missed_record", "booked_session", "makeup_record")
