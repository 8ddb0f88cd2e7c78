"""Writes of the families app: guardians, their links to students, and admission.

Locks are always taken in the same order, student row first, then its links, so two
requests on one family never deadlock.
"""

from dataclasses import dataclass, field, replace

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from academy.common.exceptions import Conflict
from academy.common.numbering import GUARDIAN_NUMBERS, number_next
from academy.common.services import assign_fields, record_history, validated_save
from families.models import Guardian, StudentGuardian
from families.selectors import guardian_recipient
from notifications.models import Notification
from notifications.services import Recipient, notify
from students.models import Student
from students.services import student_create

GUARDIAN_FIELDS = {
    "salutation",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "country",
    "postal_code",
    "account_status",
    "preferred_communication",
}
LINK_FLAGS = {
    "relation",
    "can_pick_up",
    "can_authorize_medical",
    "receives_communications",
    "is_financially_responsible",
}

Primary = StudentGuardian.RelationshipType.PRIMARY


def _normalise(data: dict) -> dict:
    data = {key: (value.strip() if isinstance(value, str) else value) for key, value in data.items()}
    if "email" in data:
        data["email"] = (data["email"] or "").lower()
    return data


@transaction.atomic
def guardian_create(*, actor, data: dict) -> Guardian:
    guardian = Guardian()
    assign_fields(guardian, _normalise(data), allowed=GUARDIAN_FIELDS)
    guardian.full_clean(exclude=["guardian_number"])
    guardian.guardian_number = number_next(GUARDIAN_NUMBERS)
    return validated_save(guardian, actor=actor, reason="Created", validate=False)


@transaction.atomic
def guardian_update(*, guardian: Guardian, actor, data: dict, reason: str = "") -> Guardian:
    guardian = Guardian.objects.select_for_update(no_key=True).get(pk=guardian.pk)
    assign_fields(guardian, _normalise(data), allowed=GUARDIAN_FIELDS)
    return validated_save(guardian, actor=actor, reason=reason or "Updated")


@dataclass
class GuardianLinkSpec:
    """A guardian to link at admission: an existing ``guardian`` or ``data`` for a new one."""

    relationship_type: str
    guardian: Guardian | None = None
    data: dict | None = None
    flags: dict = field(default_factory=dict)


def _link_create(*, student: Student, guardian: Guardian, relationship_type: str, flags: dict, actor):
    flags = dict(flags)
    unknown = set(flags) - LINK_FLAGS
    if unknown:
        raise ValueError(f"unknown link fields {sorted(unknown)}")
    if relationship_type == Primary:
        if flags.get("can_authorize_medical") is False:
            raise ValidationError(
                {"can_authorize_medical": "A primary guardian must be able to authorise medical care."}
            )
        flags["can_authorize_medical"] = True
        flags.setdefault("is_financially_responsible", True)
    link = StudentGuardian(
        student=student, guardian=guardian, relationship_type=relationship_type, created_by=actor, **flags
    )
    return validated_save(link, actor=actor, reason=f"Linked as {relationship_type}")


@transaction.atomic
def student_admit(
    *,
    actor,
    student_data: dict,
    primary: GuardianLinkSpec,
    others: list[GuardianLinkSpec] = (),
    notify_guardians: bool = True,
) -> Student:
    """Admit a student with a primary guardian (new or existing) and optional other
    guardians, all in one transaction: either everything is written or nothing. Then
    the guardians are told ("student_admitted"; e-mail/SMS go out after commit) unless
    ``notify_guardians`` is off (bulk imports, demo seeds)."""
    if primary.relationship_type != Primary:
        raise ValidationError({"primary_guardian": "The first guardian of an admission must be the primary one."})
    if primary.guardian is None and not primary.data:
        raise ValidationError({"primary_guardian": "A student needs a primary guardian."})
    if any(spec.relationship_type == Primary for spec in others):
        raise ValidationError({"guardians": "A student has exactly one primary guardian."})
    errors: dict[str, list[str]] = {}
    student = _admission_step(errors, "student", lambda: student_create(actor=actor, data=student_data))
    for index, spec in enumerate([primary, *others]):
        prefix = "primary_guardian" if index == 0 else f"guardians[{index - 1}]"
        guardian = spec.guardian or _admission_step(
            errors, prefix, lambda spec=spec: guardian_create(actor=actor, data=spec.data)
        )
        if student is not None and guardian is not None:
            if any(link.guardian_id == guardian.pk for link in student.guardian_links.all()):
                errors.setdefault(prefix, []).append("This guardian is listed twice.")
                continue
            _admission_step(
                errors,
                prefix,
                lambda spec=spec, guardian=guardian: _link_create(
                    student=student,
                    guardian=guardian,
                    relationship_type=spec.relationship_type,
                    flags=spec.flags,
                    actor=actor,
                ),
            )
    if errors:
        raise ValidationError(errors)
    if notify_guardians:
        _admission_notify(student=student, actor=actor)
    return student


def _admission_step(errors: dict, prefix: str, step):
    """Run one step in a savepoint; collect its field errors under ``prefix``."""
    try:
        with transaction.atomic():
            return step()
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for name, messages in error.message_dict.items():
                key = prefix if name == "__all__" else f"{prefix}.{name}" if prefix != "student" else name
                errors.setdefault(key, []).extend(messages)
        else:
            errors.setdefault(prefix, []).extend(error.messages)
        return None


@transaction.atomic
def student_guardian_link(
    *, actor, student: Student, guardian: Guardian, relationship_type: str, flags: dict | None = None
) -> StudentGuardian:
    """Link a guardian to a student as secondary guardian or emergency contact. A new
    primary guardian is set with ``primary_guardian_change``."""
    student = Student.objects.select_for_update(no_key=True).get(pk=student.pk)
    if relationship_type == Primary:
        raise Conflict(
            "The student has a primary guardian; change the primary guardian instead.", code="primary_guardian_exists"
        )
    if StudentGuardian.objects.filter(student=student, guardian=guardian).exists():
        raise Conflict("This guardian is already linked to the student.", code="already_linked")
    return _link_create(
        student=student, guardian=guardian, relationship_type=relationship_type, flags=flags or {}, actor=actor
    )


@transaction.atomic
def student_guardian_update(*, link: StudentGuardian, actor, data: dict) -> StudentGuardian:
    """Change a link's label, permissions or its type between secondary and emergency."""
    Student.objects.select_for_update(no_key=True).filter(pk=link.student_id).first()
    link = StudentGuardian.objects.select_for_update(no_key=True).get(pk=link.pk)
    new_type = data.get("relationship_type", link.relationship_type)
    if new_type != link.relationship_type and Primary in (new_type, link.relationship_type):
        raise Conflict("Change the primary guardian with the primary-guardian action.", code="primary_guardian_change")
    if link.relationship_type == Primary and data.get("can_authorize_medical") is False:
        raise ValidationError({"can_authorize_medical": "A primary guardian must be able to authorise medical care."})
    assign_fields(link, data, allowed=LINK_FLAGS | {"relationship_type"})
    return validated_save(link, actor=actor, reason="Link changed")


@transaction.atomic
def student_guardian_unlink(*, link: StudentGuardian, actor) -> None:
    """Remove a guardian from a student. The primary guardian cannot be removed: make
    another guardian primary first, so every student keeps exactly one."""
    Student.all_objects.select_for_update(no_key=True).filter(pk=link.student_id).first()
    link = StudentGuardian.objects.select_for_update(no_key=True).get(pk=link.pk)
    if link.relationship_type == Primary:
        raise Conflict(
            "A student must keep a primary guardian; make another guardian primary first.",
            code="primary_guardian_required",
        )
    record_history(link, actor=actor, reason="Unlinked")
    link.delete()


@transaction.atomic
def primary_guardian_change(*, student: Student, guardian: Guardian, actor, relation: str = "") -> StudentGuardian:
    """Make ``guardian`` the student's primary guardian in one atomic swap: the old
    primary becomes a secondary guardian; the new one is linked if they were not."""
    student = Student.all_objects.select_for_update(no_key=True).get(pk=student.pk)
    links = {
        link.guardian_id: link
        for link in StudentGuardian.objects.select_for_update(no_key=True).filter(student=student)
    }
    current = next((link for link in links.values() if link.relationship_type == Primary), None)
    if current is not None and current.guardian_id == guardian.pk:
        return current
    if current is not None:
        current.relationship_type = StudentGuardian.RelationshipType.SECONDARY
        validated_save(current, actor=actor, reason="No longer primary")
    link = links.get(guardian.pk)
    if link is None:
        return _link_create(
            student=student,
            guardian=guardian,
            relationship_type=Primary,
            flags={"relation": relation} if relation else {},
            actor=actor,
        )
    link.relationship_type = Primary
    link.can_authorize_medical = True
    if relation:
        link.relation = relation
    return validated_save(link, actor=actor, reason="Made primary")


@transaction.atomic
def guardian_set_portal_user(*, guardian: Guardian, user, actor) -> Guardian:
    """Give a guardian a parent-portal login (or take it away with ``user=None``)."""
    from academy.roles import PARENT
    from academy.services import user_assign_role

    guardian = Guardian.objects.select_for_update(no_key=True).get(pk=guardian.pk)
    if user is not None:
        if user.is_academy_staff:
            raise ValidationError({"portal_user": "A staff login cannot be a parent's portal login."})
        other = Guardian.objects.filter(portal_user=user).exclude(pk=guardian.pk).first()
        if other is not None:
            raise ValidationError({"portal_user": f"This login already belongs to {other}."})
        user_assign_role(user=user, role=PARENT)
    guardian.portal_user = user
    return validated_save(guardian, actor=actor, reason="Portal login changed")


# --- notifications to guardians, portal invitations and password resets ----------------


def _email_only(guardian: Guardian) -> Recipient:
    """``guardian`` reached by e-mail only, whatever their preference, and not in the
    inbox: for links that set a password, which only make sense by e-mail."""
    return replace(guardian_recipient(guardian, in_app=False), channels=("email",))


def _admission_notify(*, student: Student, actor) -> int:
    """Tell the new student's guardians: the primary guardian always (they hold the
    account), the others when their link receives communications. Each over the
    channels ``guardian_notification_channels`` resolves, plus the in-app inbox of an
    active portal login. Returns how many guardians were told."""
    told = 0
    links = StudentGuardian.objects.filter(student=student).select_related("guardian", "guardian__portal_user")
    for link in links:
        guardian = link.guardian
        is_primary = link.relationship_type == Primary
        if not is_primary and not link.receives_communications:
            continue
        recipient = guardian_recipient(guardian, link=None if is_primary else link)
        if not recipient.channels and recipient.user is None:
            continue
        context = {
            "guardian_name": guardian.full_name,
            "student_name": student.full_name,
            "student_number": student.student_number,
            "location_name": student.location.name,
        }
        notify(
            kind="student_admitted",
            recipients=[recipient],
            context=context,
            metadata=context,
            actor=actor,
            location=student.location,
            type=Notification.Type.SUCCESS,
            action_url=reverse("portal:child", kwargs={"pk": student.pk}),
            dedupe_key=f"student_admitted:{student.pk}",
        )
        told += 1
    return told


def _portal_base_url(base_url: str | None) -> str:
    return (base_url or getattr(settings, "PORTAL_BASE_URL", "") or "http://127.0.0.1:8000").rstrip("/")


def _password_link(*, user, base_url: str | None, url_name: str) -> str:
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return _portal_base_url(base_url) + reverse(url_name, kwargs={"uidb64": uidb64, "token": token})


@transaction.atomic
def guardian_invite(*, guardian: Guardian, actor, base_url: str | None = None) -> Guardian:
    """Invite a guardian to the parent portal: create their login if they have none
    (username = their e-mail, no usable password, the Parent role) and e-mail them a
    link to ``/portal/invitation/<uidb64>/<token>/`` where they choose a password. The
    link works once (it is bound to the password and last login) and expires after
    ``PASSWORD_RESET_TIMEOUT``. Inviting again sends a fresh link.

    ``base_url`` (e.g. ``request.build_absolute_uri("/")``) makes the link absolute;
    without it ``settings.PORTAL_BASE_URL`` is used."""
    from django.contrib.auth import get_user_model

    no_email = ValidationError({"email": "The guardian needs an e-mail address to be invited to the portal."})
    if not (guardian.email or "").strip():
        raise no_email
    guardian = Guardian.objects.select_for_update(no_key=True).get(pk=guardian.pk)
    if not guardian.email:
        raise no_email
    if guardian.account_status != Guardian.AccountStatus.ACTIVE:
        raise ValidationError(
            {"account_status": "Only an active guardian can be invited to the portal; reactivate the account first."}
        )
    user = guardian.portal_user
    if user is not None and not user.is_active:
        raise ValidationError({"portal_user": "This guardian's portal login is deactivated; reactivate it first."})
    if user is None:
        User = get_user_model()
        username = guardian.email.lower()
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(
                {"email": f"A login named {username} already exists; link it to this guardian instead."}
            )
        # academy.services has no user-creation service yet (as in academy.seeds)
        user = User(
            username=username, email=guardian.email, first_name=guardian.first_name, last_name=guardian.last_name
        )
        user.set_unusable_password()
        try:
            user.full_clean()
        except ValidationError as error:
            raise ValidationError({"email": error.messages}) from error
        user.save()
        guardian = guardian_set_portal_user(guardian=guardian, user=user, actor=actor)
    context = {
        "guardian_name": guardian.full_name,
        "username": user.username,
        "invitation_url": _password_link(user=user, base_url=base_url, url_name="portal:invitation"),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        "academy_name": settings.ACADEMY_NAME,
    }
    notify(
        kind="portal_invitation",
        recipients=[_email_only(guardian)],
        context=context,
        metadata=context,
        actor=actor,
    )
    return guardian


PASSWORD_RESET_WINDOW_SECONDS = 10 * 60


def guardian_password_reset_send(*, guardian: Guardian, base_url: str | None = None) -> bool:
    """E-mail a guardian a link to choose a new portal password, to the guardian's own
    address. At most one per guardian in each 10-minute window (so the form cannot be
    used to flood a parent's inbox). Returns whether a message was sent."""
    user = guardian.portal_user
    if user is None or not user.is_active or guardian.account_status != Guardian.AccountStatus.ACTIVE:
        return False
    context = {
        "guardian_name": guardian.full_name,
        "username": user.username,
        "reset_url": _password_link(user=user, base_url=base_url, url_name="portal:password_reset_confirm"),
        "academy_name": settings.ACADEMY_NAME,
    }
    window = int(timezone.now().timestamp()) // PASSWORD_RESET_WINDOW_SECONDS
    result = notify(
        kind="password_reset",
        recipients=[_email_only(guardian)],
        context=context,
        metadata=context,
        dedupe_key=f"password_reset:{user.pk}:{window}",
    )
    return bool(result.created)
