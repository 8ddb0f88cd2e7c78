"""Grading in Django admin (docs/rules.md, Grading), every model with its history.

- Grade scales and their bands are reference data that academy admins edit here (the
  bands inline); results keep the letter they were given, so a changed band moves only
  drafts, the next time their scores change.
- Assessments and scores save through ``grading.services``: a section's weights stay at
  most 100, a published or frozen section refuses changes, a score stays between 0 and
  the maximum. A refusal is an error message on the same page and nothing is written
  (``ServiceAdminMixin``). Scores are never deleted (mark one excused or missing).
- Results, change requests and skill ratings are read-only: results change through
  publishing and approved change requests, ratings are appended by the rating screen.
  Change requests can be approved or rejected here by someone holding
  ``grading.approve_resultchange`` (as in the staff portal and the API), never by the
  person who asked.
- Document requests are read-only with their history; someone holding
  ``grading.change_documentrequest`` may approve or complete them here (through
  ``grading.document_services``; rejecting needs a reason the family reads: the staff
  portal or the API). The register of issued documents and the verification visits are
  read-only: nothing issued is ever changed or removed.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from simple_history.admin import SimpleHistoryAdmin

from academy.common.admin import ReadOnlyAdmin, ReadOnlyHistoryAdmin, ServiceAdminMixin, service_error_text
from academy.common.exceptions import Conflict
from grading import document_services, documents, services
from grading.models import (
    Assessment,
    DocumentRequest,
    DocumentVisit,
    GradeBand,
    GradeScale,
    IssuedDocument,
    Result,
    ResultChange,
    Score,
    SkillRating,
)

APPROVE_PERMISSION = "grading.approve_resultchange"
DOCUMENT_PERMISSION = "grading.change_documentrequest"
STUDENT_SEARCH = ("student__student_number", "student__last_name", "student__first_name")
RECORD_FIELDS = ("created_at", "created_by", "updated_at", "updated_by")
SECTION_RELATED = ("section__course", "section__term__academic_year", "section__location")


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved ``obj`` the row a service created (the admin logs the
    addition and redirects with ``obj.pk``)."""
    obj.pk = saved.pk
    obj._state = saved._state
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))


class NoBulkDeleteMixin:
    """No "delete selected" action: each deletion goes through the object's own page,
    where a service that refuses says why and nothing is deleted."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


# --- grade scales ---------------------------------------------------------------------------


class GradeBandInline(admin.TabularInline):
    model = GradeBand
    extra = 0
    fields = ("letter", "min_percentage", "grade_points", "passed")
    ordering = ("-min_percentage",)


@admin.register(GradeScale)
class GradeScaleAdmin(SimpleHistoryAdmin):
    list_display = ("name", "is_default", "program", "location", "counts_in_gpa", "updated_at")
    list_filter = ("is_default", "counts_in_gpa", "program", "location")
    search_fields = ("name",)
    list_select_related = ("program", "location")
    readonly_fields = ("created_at", "updated_at")
    inlines = [GradeBandInline]


@admin.register(GradeBand)
class GradeBandAdmin(SimpleHistoryAdmin):
    list_display = ("scale", "letter", "min_percentage", "grade_points", "passed")
    list_filter = ("scale", "passed")
    list_select_related = ("scale",)
    ordering = ("scale__name", "-min_percentage")


# --- assessments and scores ------------------------------------------------------------------


@admin.register(Assessment)
class AssessmentAdmin(NoBulkDeleteMixin, ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = ("title", "section", "type", "date", "weight", "max_score")
    list_filter = ("type", "section__term", "section__location")
    search_fields = ("title", "section__course__code", "section__course__title")
    list_select_related = SECTION_RELATED
    date_hierarchy = "date"
    autocomplete_fields = ("section",)
    fields = ("section", "type", "title", "date", "weight", "max_score", *RECORD_FIELDS)
    readonly_fields = RECORD_FIELDS

    def get_readonly_fields(self, request, obj=None):
        # an assessment stays in its section (its scores are that section's students')
        return (*self.readonly_fields, "section") if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in services.ASSESSMENT_FIELDS if name in form.cleaned_data}
        if change:
            changed = {name: value for name, value in data.items() if name in form.changed_data}
            services.assessment_update(assessment=obj, actor=request.user, data=changed)
        else:
            created = services.assessment_create(section=form.cleaned_data["section"], actor=request.user, **data)
            _adopt(obj, created)

    def delete_model(self, request, obj):
        services.assessment_delete(assessment=obj, actor=request.user)

    def get_deleted_objects(self, objs, request):
        # the scores go with their assessment (the service deletes them, with history),
        # though the admin never deletes a score on its own
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Score._meta.verbose_name)
        return deleted, counts, perms_needed, protected


@admin.register(Score)
class ScoreAdmin(NoBulkDeleteMixin, ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = ("student", "assessment", "status", "score", "max_score", "updated_by", "updated_at")
    list_filter = ("status", "assessment__type", "assessment__section__term")
    search_fields = ("student__student_number", "student__last_name", "assessment__title")
    list_select_related = (
        "student",
        "assessment__section__course",
        "assessment__section__term__academic_year",
        "assessment__section__location",
        "updated_by",
    )
    raw_id_fields = ("assessment", "student")
    fields = ("assessment", "student", "status", "score", "comment", "eligibility_override_reason")

    def get_fields(self, request, obj=None):
        # the maximum is the assessment's (copied on save); shown once the score exists
        return (*self.fields, "max_score", *RECORD_FIELDS) if obj is not None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return ("assessment", "student", "max_score", *RECORD_FIELDS) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False  # a score is marked excused or missing, never removed

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.score_save(
            assessment=obj.assessment,
            student=obj.student,
            actor=request.user,
            status=data["status"],
            score=data.get("score"),
            comment=data.get("comment") or "",
            override_reason=data.get("eligibility_override_reason") or "",
        )
        _adopt(obj, saved)


# --- results and change requests (read-only) -------------------------------------------------


@admin.register(Result)
class ResultAdmin(ReadOnlyHistoryAdmin):
    """Published through publishing, changed through approved change requests, frozen
    with the term; the database refuses anything else."""

    list_display = ("student", "section", "percentage", "letter_grade", "grade_points", "state", "published_at")
    list_filter = ("state", "section__term", "section__location")
    search_fields = ("student__student_number", "student__last_name", "section__course__code")
    list_select_related = ("student", *SECTION_RELATED)


@admin.register(ResultChange)
class ResultChangeAdmin(ReadOnlyHistoryAdmin):
    list_display = ("result", "old_grade", "new_grade", "status", "requested_by", "approved_by", "requested_at")
    list_filter = ("status",)
    search_fields = ("result__student__student_number", "result__student__last_name", "reason")
    list_select_related = (
        "result__student",
        "result__section__course",
        "result__section__term",
        "requested_by",
        "approved_by",
    )
    actions = ["approve", "reject"]

    def has_decide_permission(self, request):
        return request.user.has_perm(APPROVE_PERMISSION)  # as the staff portal and the API

    def _decide(self, request, queryset, decide, verb: str) -> None:
        done = 0
        for change in queryset.select_related("requested_by"):
            try:
                decide(change=change, actor=request.user, note=f"{verb} in admin")
            except (Conflict, ValidationError) as error:
                self.message_user(request, f"{change}: {service_error_text(error)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{verb} {done} change request(s).", messages.SUCCESS)

    @admin.action(description="Approve the selected change requests (applies the new grade)", permissions=["decide"])
    def approve(self, request, queryset):
        self._decide(request, queryset, services.result_change_approve, "Approved")

    @admin.action(description="Reject the selected change requests", permissions=["decide"])
    def reject(self, request, queryset):
        self._decide(request, queryset, services.result_change_reject, "Rejected")


# --- skill ratings (read-only, appended by the rating screen) --------------------------------


@admin.register(SkillRating)
class SkillRatingAdmin(ReadOnlyAdmin):
    """Every rating is a row kept for ever (the next one is a new row), so the rows
    themselves are the history."""

    list_display = (
        "student",
        "skill_area",
        "level",
        "previous_rating",
        "current_rating",
        "target_rating",
        "assessment_date",
        "instructor",
    )
    list_filter = ("current_rating", "level__curriculum", "level")
    search_fields = ("student__student_number", "student__last_name", "skill_area__name")
    list_select_related = ("student", "skill_area", "level", "instructor")
    date_hierarchy = "assessment_date"


# --- documents: requests (read-only, approved or completed by actions), the register --------


@admin.register(DocumentRequest)
class DocumentRequestAdmin(ReadOnlyHistoryAdmin):
    list_display = ("student", "type", "status", "purpose", "requested_by", "created_at", "processed_by")
    list_filter = ("type", "status", "student__location")
    search_fields = (*STUDENT_SEARCH, "purpose", "addressee")
    list_select_related = ("student", "requested_by", "processed_by")
    date_hierarchy = "created_at"
    actions = ["approve", "complete"]

    def has_process_permission(self, request):
        return request.user.has_perm(DOCUMENT_PERMISSION)  # as the staff portal and the API

    def _process(self, request, queryset, process, verb: str) -> None:
        done = 0
        for document_request in queryset.select_related("student"):
            try:
                process(request=document_request, actor=request.user)
            except (Conflict, ValidationError) as error:
                self.message_user(request, f"{document_request}: {service_error_text(error)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{verb} {done} document request(s).", messages.SUCCESS)

    @admin.action(description="Approve the selected document requests", permissions=["process"])
    def approve(self, request, queryset):
        self._process(request, queryset, document_services.document_request_approve, "Approved")

    @admin.action(description="Complete the selected requests (issues each document)", permissions=["process"])
    def complete(self, request, queryset):
        self._process(request, queryset, document_services.document_request_complete, "Completed")


@admin.register(IssuedDocument)
class IssuedDocumentAdmin(ReadOnlyAdmin):
    """The register: what each document states as issued, and its digest. Never changed
    or removed (its verification link answers from this row)."""

    list_display = ("student", "type", "location", "issued_at", "issued_by", "request", "digest")
    list_filter = ("type", "location")
    search_fields = (*STUDENT_SEARCH, "digest")
    list_select_related = ("student", "location", "issued_by", "request")
    date_hierarchy = "issued_at"
    readonly_fields = ("verification_link",)

    @admin.display(description="Verification link")
    def verification_link(self, document):
        return documents.verify_url(document)


@admin.register(DocumentVisit)
class DocumentVisitAdmin(ReadOnlyAdmin):
    """Each check of a verification link (the client only as a hash)."""

    list_display = ("visited_at", "outcome", "document", "via")
    list_filter = ("outcome", "via")
    list_select_related = ("document",)
    date_hierarchy = "visited_at"
