"""API views of students, guardians and their links, and ``me/``.

Every queryset comes from ``families.selectors`` with the caller, so a parent sees only
their own children (another family's child is a 404) and location-limited staff only
their locations. Writes go through ``families.services`` / ``students.services``.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from academy.api import AcademyAutoSchema, ApiViewSet
from academy.common.permissions import AuthenticatedOnly
from academy.selectors import location_list
from families import selectors, services
from families.api import serializers as api
from families.filters import GuardianFilterSet, StudentGuardianFilterSet
from families.models import StudentGuardian
from students import services as student_services
from students.filters import StudentFilterSet


class MeView(APIView):
    """The caller: username, roles, the locations they may see and, for a parent, their
    guardian record."""

    schema = AcademyAutoSchema()
    permission_classes = [AuthenticatedOnly]
    error_statuses = {"401"}

    @extend_schema(responses=api.MeSerializer, tags=["auth"])
    def get(self, request):
        user = request.user
        me = {
            "id": user.pk,
            "username": user.get_username(),
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "roles": sorted(user.role_names),
            "is_academy_staff": user.is_academy_staff,
            "is_parent": user.is_parent,
            "locations": list(location_list(user=user)) if user.is_academy_staff else [],
            "guardian": selectors.guardian_for_user(user),
        }
        return Response(api.MeSerializer(me).data)


def _link_spec(item: dict) -> services.GuardianLinkSpec:
    """A further guardian of an admission, from the validated ``guardians`` item."""
    reference = item.pop("guardian")
    return services.GuardianLinkSpec(
        relationship_type=item.pop("relationship_type"),
        guardian=reference.guardian,
        data=reference.data,
        flags=item,
    )


class StudentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Students the caller may see. POST admits a student with a primary guardian;
    PATCH changes the record and, with ``status``, makes an allowed status change."""

    serializer_class = api.StudentSerializer
    create_serializer_class = api.StudentCreateSerializer
    update_serializer_class = api.StudentUpdateSerializer
    filterset_class = StudentFilterSet
    parent_readable = True

    def get_queryset(self):
        return selectors.student_list(user=self.request.user)

    def get_serializer_context(self):
        """``staff_view`` for the staff-only fields; the serializer asks
        ``families.selectors`` whose medical details the caller may see."""
        context = super().get_serializer_context()
        user = getattr(self.request, "user", None) if getattr(self, "request", None) else None
        context["staff_view"] = bool(user and user.is_authenticated and user.is_academy_staff)
        return context

    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        primary = data.pop("primary_guardian")
        student = services.student_admit(
            actor=request.user,
            student_data={name: value for name, value in data.items() if name not in ("primary_link", "guardians")},
            primary=services.GuardianLinkSpec(
                relationship_type=StudentGuardian.RelationshipType.PRIMARY,
                guardian=primary.guardian,
                data=primary.data,
                flags=dict(data.get("primary_link", {})),
            ),
            others=[_link_spec(dict(item)) for item in data.get("guardians", [])],
        )
        return self.respond(student, status=201)

    def partial_update(self, request, *args, **kwargs):
        student = self.get_object()
        data = self.validated_input()
        status = data.pop("status", None)
        student = student_services.student_change(student=student, actor=request.user, data=data, status=status)
        return self.respond(student)

    @extend_schema(responses=api.StudentGuardianSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], permission_model=StudentGuardian, filterset_class=None)
    def guardians(self, request, pk=None):
        """The student's guardians and what each may do."""
        links = selectors.student_guardians(user=request.user, student_pk=self.get_object().pk)
        page = self.paginate_queryset(links)
        return self.get_paginated_response(api.StudentGuardianSerializer(page, many=True).data)

    @extend_schema(request=api.PrimaryGuardianChangeSerializer, responses=api.StudentGuardianSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="primary-guardian",
        permission_model=StudentGuardian,
        required_permission="families.change_studentguardian",
        filterset_class=None,
    )
    def primary_guardian(self, request, pk=None):
        """Make a guardian the student's primary guardian; the old primary becomes secondary."""
        student = self.get_object()
        data = self.validated_input(api.PrimaryGuardianChangeSerializer, partial=False)
        link = services.primary_guardian_change(
            student=student, guardian=data["guardian"], actor=request.user, relation=data.get("relation", "")
        )
        link = selectors.student_guardian_list(user=request.user).get(pk=link.pk)
        return Response(api.StudentGuardianSerializer(link).data)


class GuardianViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Guardians the caller may see; a parent sees only their own record."""

    serializer_class = api.GuardianSerializer
    create_serializer_class = api.GuardianInputSerializer
    filterset_class = GuardianFilterSet
    parent_readable = True

    def get_queryset(self):
        return selectors.guardian_list(user=self.request.user)

    def create(self, request, *args, **kwargs):
        guardian = services.guardian_create(actor=request.user, data=self.validated_input())
        return self.respond(guardian, status=201)

    def partial_update(self, request, *args, **kwargs):
        guardian = self.get_object()
        guardian = services.guardian_update(guardian=guardian, actor=request.user, data=self.validated_input())
        return self.respond(guardian)


class StudentGuardianViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Links between students and guardians. POST links a secondary guardian or an
    emergency contact; DELETE unlinks (never the primary guardian: 409)."""

    serializer_class = api.StudentGuardianSerializer
    create_serializer_class = api.GuardianLinkCreateSerializer
    update_serializer_class = api.GuardianLinkUpdateSerializer
    filterset_class = StudentGuardianFilterSet
    parent_readable = True

    def get_queryset(self):
        return selectors.student_guardian_list(user=self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        link = services.student_guardian_link(
            actor=request.user,
            student=data.pop("student"),
            guardian=data.pop("guardian"),
            relationship_type=data.pop("relationship_type"),
            flags=data,
        )
        return self.respond(link, status=201)

    def partial_update(self, request, *args, **kwargs):
        link = self.get_object()
        link = services.student_guardian_update(link=link, actor=request.user, data=self.validated_input())
        return self.respond(link)

    def destroy(self, request, *args, **kwargs):
        services.student_guardian_unlink(link=self.get_object(), actor=request.user)
        return Response(status=204)
