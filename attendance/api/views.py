"""API views of the attendance app (docs/api.md ``attendance/``,
``class-sessions/{id}/attendance/``, ``students/{id}/attendance-summary/``, and the
make-up credits).

Querysets come from ``attendance.selectors`` with the caller: a parent reads their
children's marks and credits; location-limited staff their locations'; an instructor
only the sections they teach (``academy.selectors.section_list``). Writes validate an
input serializer and call one ``attendance.services`` function.
"""

from dataclasses import asdict

from django.utils.dateparse import parse_date
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from academy.api import AcademyAutoSchema, ApiViewSet
from academy.common.exceptions import Conflict
from academy.common.permissions import RolePermission
from attendance import selectors, services
from attendance.api import serializers as api
from attendance.filters import AttendanceRecordFilterSet, MakeupCreditFilterSet
from attendance.models import AttendanceRecord
from families.selectors import students_visible_to


def _details(data: dict) -> dict:
    return {name: data[name] for name in services.DETAIL_FIELDS if name in data}


class AttendanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """One mark per student and class session. POST marks one student (409
    ``already_marked`` when the student has a mark: PATCH it), PATCH changes the status
    or details, DELETE (with ``reason``) removes a mark made in error. Session counts
    and make-up credits follow every write. 409 ``session_cancelled``,
    ``session_in_future``; a student not enrolled is a 400 on ``student``."""

    serializer_class = api.AttendanceRecordSerializer
    create_serializer_class = api.AttendanceCreateSerializer
    update_serializer_class = api.AttendanceUpdateSerializer
    filterset_class = AttendanceRecordFilterSet
    parent_readable = True
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.attendance_list(user=self.request.user)

    @extend_schema(responses={201: api.AttendanceRecordSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        session, student = data["class_session"], data["student"]
        if AttendanceRecord.objects.filter(class_session=session, student=student).exists():
            raise Conflict("The student already has a mark for this session: change it instead.", "already_marked")
        record = services.attendance_mark(
            class_session=session, student=student, status=data["status"], actor=request.user, **_details(data)
        )
        return self.respond(record, status=201)

    def partial_update(self, request, *args, **kwargs):
        record = self.get_object()
        data = self.validated_input()
        record = services.attendance_update(
            record=record, actor=request.user, status=data.get("status"), **_details(data)
        )
        return self.respond(record)

    @extend_schema(request=api.ReasonSerializer, responses={204: None})
    def destroy(self, request, *args, **kwargs):
        record = self.get_object()
        data = self.validated_input(api.ReasonSerializer, partial=False)
        services.attendance_delete(record=record, actor=request.user, reason=data["reason"])
        return Response(status=204)


# academy cannot import attendance, and no app imports another's API views: academy.config.api
# composes this mixin with academy's ClassSessionViewSet.
class ClassSessionAttendanceMixin:
    """Scheduled meetings of the sections the caller may see, and their attendance at
    ``{id}/attendance/``: GET the roster (every student expected, with their mark), POST
    the whole roster at once, all or nothing (a bad row: 400 on ``marks[i].field``,
    nothing written)."""

    @extend_schema(methods=["GET"], request=None, responses=api.RosterRowSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"], request=api.RosterInputSerializer, responses=api.AttendanceRecordSerializer(many=True)
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="attendance",
        permission_model=AttendanceRecord,
        filterset_class=None,
        pagination_class=None,
    )
    def attendance(self, request, pk=None):
        class_session = self.get_object()
        if request.method == "GET":
            rows = selectors.roster(class_session=class_session)
            return Response(api.RosterRowSerializer(rows, many=True).data)
        data = self.validated_input(api.RosterInputSerializer, partial=False)
        marks = [
            services.Mark(student=row["student"], status=row["status"], details=_details(row)) for row in data["marks"]
        ]
        records = services.attendance_mark_roster(class_session=class_session, marks=marks, actor=request.user)
        fresh = selectors.attendance_list(user=request.user).filter(pk__in=[r.pk for r in records])
        return Response(api.AttendanceRecordSerializer(fresh.order_by("student__last_name", "pk"), many=True).data)


class MakeupCreditViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Make-up credits earned by missed sessions. ``book`` a session with a free seat
    (409 ``credit_not_available``, ``credit_expired``, ``session_full``,
    ``session_cancelled``, ``session_past``, ``already_enrolled``, ``already_booked``),
    ``cancel`` a booking not yet attended (409 ``not_booked``, ``makeup_attended``)."""

    serializer_class = api.MakeupCreditSerializer
    filterset_class = MakeupCreditFilterSet
    parent_readable = True
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.makeup_credit_list(user=self.request.user)

    @extend_schema(request=api.MakeupBookSerializer, responses=api.MakeupCreditSerializer)
    @action(detail=True, methods=["post"], required_permission="attendance.change_makeupcredit", filterset_class=None)
    def book(self, request, pk=None):
        credit = self.get_object()
        data = self.validated_input(api.MakeupBookSerializer, partial=False)
        services.makeup_book(credit=credit, class_session=data["class_session"], actor=request.user)
        return self.respond(credit)

    @extend_schema(request=api.MakeupCancelSerializer, responses=api.MakeupCreditSerializer)
    @action(detail=True, methods=["post"], required_permission="attendance.change_makeupcredit", filterset_class=None)
    def cancel(self, request, pk=None):
        credit = self.get_object()
        data = self.validated_input(api.MakeupCancelSerializer, partial=False)
        services.makeup_cancel(credit=credit, actor=request.user, reason=data.get("reason", ""))
        return self.respond(credit)


def summary_data(summary) -> dict:
    return {**asdict(summary), "percentage": summary.percentage}


class StudentAttendanceSummaryView(APIView):
    """A student's attendance per month and overall, and per enrollment with its
    eligibility threshold. ``?from=YYYY-MM-DD`` limits the marks counted."""

    schema = AcademyAutoSchema()
    permission_classes = [RolePermission]
    permission_model = AttendanceRecord
    parent_readable = True
    error_statuses = {"400", "401", "403", "404"}

    def get_queryset(self):
        return selectors.attendance_list(user=self.request.user)

    @extend_schema(
        parameters=[OpenApiParameter("from", type=str, description="First day counted (YYYY-MM-DD).")],
        responses=api.StudentAttendanceSerializer,
        tags=["students"],
    )
    def get(self, request, pk):
        student = students_visible_to(request.user).filter(pk=pk).first()
        if student is None:
            return Response({"detail": "No such student."}, status=404)
        since = None
        if request.query_params.get("from"):
            since = _date_or_none(request.query_params["from"])
            if since is None:
                return Response({"from": ["Enter a date as YYYY-MM-DD."]}, status=400)
        data = selectors.student_attendance(student=student, since=since, user=request.user)
        body = {
            "student": student.pk,
            "overall": summary_data(data.overall),
            "months": [{"month": month, **summary_data(summary)} for month, summary in data.months],
            "enrollments": data.enrollments,
        }
        return Response(api.StudentAttendanceSerializer(body).data)


def _date_or_none(value: str):
    try:
        return parse_date(value)
    except ValueError:
        return None
