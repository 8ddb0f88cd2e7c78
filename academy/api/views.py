"""API views of the academy app: token login, the API root and the academy's structure.

Every queryset comes from ``academy.selectors`` with the caller (location scoping for
locations, facilities, sections and class sessions); every write goes through
``academy.services``.
"""

import uuid

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, routers
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from academy import filters, login_limits, selectors, services
from academy.api import AcademyAutoSchema, ApiViewSet, flatten_errors
from academy.api import serializers as api
from academy.common.permissions import AuthenticatedOnly
from academy.models import AcademicYear


class TokenObtainView(APIView):
    """Exchange a username and password for an API token.

    Failed logins make the client wait (``academy.login_limits``): past a few, a growing
    delay during which the answer is 429 with ``Retry-After`` and the password is not
    checked. No account is locked: its owner's other clients are not delayed.
    """

    schema = AcademyAutoSchema()
    authentication_classes = ()
    permission_classes = ()
    parser_classes = [JSONParser, FormParser]
    error_statuses = {"400"}

    @extend_schema(request=api.TokenRequestSerializer, responses=api.TokenSerializer, auth=[], tags=["auth"])
    def post(self, request):
        serializer = api.TokenRequestSerializer(data=request.data)
        if not serializer.is_valid():
            raise ValidationError(flatten_errors(serializer.errors))
        user = authenticate(request=request, **serializer.validated_data)
        wait = getattr(request, "login_retry_after", 0)
        if user is None and wait:
            raise Throttled(wait=wait, detail=login_limits.retry_message(wait))
        if user is None:
            raise ValidationError({"non_field_errors": ["Unable to log in with the credentials given."]})
        return Response(_token(services.api_token_current(user=user)))


def _token(token) -> dict:
    return api.TokenSerializer({"token": token.key, "expires": services.api_token_expires(token)}).data


class TokenRotateView(APIView):
    """A new token for the caller; the one they had stops working at once."""

    schema = AcademyAutoSchema()
    permission_classes = [AuthenticatedOnly]
    error_statuses = {"401"}

    @extend_schema(request=None, responses=api.TokenSerializer, tags=["auth"])
    def post(self, request):
        return Response(_token(services.api_token_rotate(user=request.user)))


class TokenRevokeView(APIView):
    """Revoke the caller's token (204; a request with it then answers 401)."""

    schema = AcademyAutoSchema()
    permission_classes = [AuthenticatedOnly]
    error_statuses = {"401"}

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        services.api_token_revoke(user=request.user)
        return Response(status=204)


class ApiRootView(routers.APIRootView):
    """The resources of the API (for logged-in users)."""

    permission_classes = [AuthenticatedOnly]


class StructureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """GET list/retrieve, POST and PATCH of one kind of structure record, saved by
    ``academy.services.structure_save`` (validated, constraints checked)."""

    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        instance = services.structure_save(instance=self.get_queryset().model(), data=data, actor=request.user)
        return self.respond(instance, status=201)

    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        data = self.validated_input()
        services.structure_save(instance=instance, data=data, actor=request.user)
        return self.respond(instance)


class LocationViewSet(StructureViewSet):
    """Branches or campuses; location-limited staff see only theirs."""

    serializer_class = api.LocationSerializer
    create_serializer_class = api.LocationInputSerializer
    filterset_class = filters.LocationFilterSet

    def get_queryset(self):
        return selectors.location_list(user=self.request.user)


class FacilityViewSet(StructureViewSet):
    """Pools, rooms and courts of the locations the caller may see."""

    serializer_class = api.FacilitySerializer
    create_serializer_class = api.FacilityInputSerializer
    filterset_class = filters.FacilityFilterSet

    def get_queryset(self):
        return selectors.facility_list(user=self.request.user)


class AcademicYearViewSet(StructureViewSet):
    """School years; exactly one is current."""

    serializer_class = api.AcademicYearSerializer
    create_serializer_class = api.AcademicYearInputSerializer
    filterset_class = filters.AcademicYearFilterSet

    def get_queryset(self):
        return selectors.academic_year_list()

    @extend_schema(request=None, responses=api.AcademicYearSerializer)
    @action(detail=True, methods=["post"], url_path="set-current", required_permission="academy.change_academicyear")
    def set_current(self, request, pk=None):
        """Make this the current academic year (every other year stops being current)."""
        year: AcademicYear = self.get_object()
        services.academic_year_set_current(year=year)
        return self.respond(year)


class TermViewSet(StructureViewSet):
    """Terms of the academic years; enrollment is possible while a term is open."""

    serializer_class = api.TermSerializer
    create_serializer_class = api.TermInputSerializer
    filterset_class = filters.TermFilterSet

    def get_queryset(self):
        return selectors.term_list()


class GradeLevelViewSet(StructureViewSet):
    """Ordered grades; ``next_grade`` is where promotion leads (none: graduation)."""

    serializer_class = api.GradeLevelSerializer
    create_serializer_class = api.GradeLevelInputSerializer
    filterset_class = filters.GradeLevelFilterSet

    def get_queryset(self):
        return selectors.grade_level_list()


class ProgramViewSet(StructureViewSet):
    serializer_class = api.ProgramSerializer
    create_serializer_class = api.ProgramInputSerializer
    filterset_class = filters.ProgramFilterSet

    def get_queryset(self):
        return selectors.program_list()


class CourseViewSet(StructureViewSet):
    serializer_class = api.CourseSerializer
    create_serializer_class = api.CourseInputSerializer
    filterset_class = filters.CourseFilterSet

    def get_queryset(self):
        return selectors.course_list()


class CurriculumViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Curricula of the courses, with levels, modules and skill areas (read only: edited in
    the admin). Filter by ``course``."""

    serializer_class = api.CurriculumSerializer

    def get_queryset(self):
        curricula = selectors.curriculum_list()
        course = self.request.query_params.get("course")
        if course:
            try:
                curricula = curricula.filter(course_id=uuid.UUID(course))
            except ValueError:
                raise ValidationError({"course": ["Enter a valid UUID."]}) from None
        return curricula


class SectionViewSet(StructureViewSet):
    """Offerings of a course in a term at a location, with ``enrolled_count`` and
    ``seats_left``; location-limited staff see their locations' sections."""

    serializer_class = api.SectionSerializer
    create_serializer_class = api.SectionInputSerializer
    filterset_class = filters.SectionFilterSet

    def get_queryset(self):
        return selectors.section_list(user=self.request.user)


class ClassSessionViewSet(StructureViewSet):
    """Scheduled meetings of the sections the caller may see."""

    serializer_class = api.ClassSessionSerializer
    create_serializer_class = api.ClassSessionInputSerializer
    filterset_class = filters.ClassSessionFilterSet

    def get_queryset(self):
        return selectors.class_session_list(user=self.request.user)
