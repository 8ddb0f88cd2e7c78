"""Writes of the academy app: roles, login throttling and the academy's structure."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy import authz
from academy.models import AcademicYear, ClassSession, Section, Term, User
from academy.roles import ACADEMY_ADMIN, ALL_ROLES, DOMAIN_APPS, ROLE_PERMISSIONS

# --- roles -------------------------------------------------------------------------


def roles_sync(*, using: str = "default") -> None:
    """Create the role groups if missing and give each exactly its permissions. Idempotent."""
    with transaction.atomic(using=using):
        permissions = {
            f"{app_label}.{codename}": pk
            for pk, app_label, codename in Permission.objects.using(using).values_list(
                "pk", "content_type__app_label", "codename"
            )
        }
        for role in ALL_ROLES:
            group, _ = Group.objects.using(using).get_or_create(name=role)
            if role == ACADEMY_ADMIN:
                wanted = {pk for name, pk in permissions.items() if name.split(".")[0] in DOMAIN_APPS}
            else:
                wanted = {permissions[name] for name in ROLE_PERMISSIONS[role] if name in permissions}
            group.permissions.set(wanted)


def user_assign_role(*, user: User, role: str) -> None:
    if role not in ALL_ROLES:
        raise ValueError(f"unknown role {role!r}")
    user.groups.add(Group.objects.get(name=role))
    authz.forget(user)


def api_token_expires(token):
    """When ``token`` stops working: ``API_TOKEN_DAYS`` after it was issued."""
    return token.created + timedelta(days=settings.API_TOKEN_DAYS)


def api_token_expired(token, *, now=None) -> bool:
    return api_token_expires(token) <= (now or timezone.now())


def api_token_issue(*, user: User) -> str:
    """The key of ``user``'s API token (``api_token_current``)."""
    return api_token_current(user=user).key


@transaction.atomic
def api_token_current(*, user: User):
    """The API token of ``user``: the one they have while it works, else a new one (an
    expired token is replaced). Answers the token (``key``, ``created``)."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and not api_token_expired(token):
        return token
    if token is not None:
        token.delete()  # post_delete forgets it in the cache
    return Token.objects.create(user=user)


@transaction.atomic
def api_token_rotate(*, user: User):
    """A new token for ``user``; the old one stops working at once."""
    api_token_revoke(user=user)
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=user)


@transaction.atomic
def api_token_revoke(*, user: User) -> bool:
    """Delete ``user``'s token (it stops working at once). Whether there was one."""
    from rest_framework.authtoken.models import Token

    tokens = list(Token.objects.select_for_update().filter(user=user))
    for token in tokens:
        token.delete()  # one by one: post_delete forgets each in the cache
    return bool(tokens)


def api_token_of(*, user: User):
    """``user``'s token or ``None`` (for their token page)."""
    from rest_framework.authtoken.models import Token

    return Token.objects.filter(user=user).first()


# --- structure ---------------------------------------------------------------------


@transaction.atomic
def academic_year_set_current(*, year: AcademicYear) -> AcademicYear:
    """Make ``year`` the one current academic year (the others stop being current)."""
    AcademicYear.objects.select_for_update().filter(is_current=True).exclude(pk=year.pk).update(is_current=False)
    year.is_current = True
    year.full_clean()
    year.save(update_fields=["is_current", "updated_at"])
    return year


@transaction.atomic
def structure_save(*, instance, data: dict | None = None, actor: User | None = None):
    """Create or change one structure record (location, term, section, ...) after
    validating it and its database constraints. ``data`` holds the fields to set.

    Raising a section's capacity sends ``academy.signals.section_capacity_raised``
    after commit (``enrollment`` offers the new seats to the section's waitlist)."""
    from academy.signals import section_capacity_raised  # academy.signals imports this module

    previous_capacity = None
    if isinstance(instance, Section):
        previous_capacity = Section.objects.filter(pk=instance.pk).values_list("capacity", flat=True).first()
    if (
        isinstance(instance, AcademicYear)
        and (data or {}).get("is_current") is False
        and AcademicYear.objects.filter(pk=instance.pk, is_current=True).exists()
    ):
        raise ValidationError({"is_current": ["Make another year current instead: one year is always current."]})
    for field, value in (data or {}).items():
        setattr(instance, field, value)
    if isinstance(instance, AcademicYear) and instance.is_current:
        AcademicYear.objects.select_for_update().filter(is_current=True).exclude(pk=instance.pk).update(
            is_current=False
        )
    instance.full_clean()
    instance.save()
    if previous_capacity is not None and instance.capacity > previous_capacity:
        transaction.on_commit(
            lambda: section_capacity_raised.send(
                sender=Section, section=instance, previous_capacity=previous_capacity, actor=actor
            ),
            robust=True,  # the change is saved; a failing receiver is logged (the waitlist job catches up)
        )
    return instance


@transaction.atomic
def term_set_status(*, term: Term, status: str) -> Term:
    term.status = status
    term.full_clean()
    term.save(update_fields=["status", "updated_at"])
    return term


def section_sessions_create(*, section: Section, meetings: list[tuple]) -> list[ClassSession]:
    """Create the class sessions of a section from ``(date, start, end)`` tuples."""
    sessions = []
    with transaction.atomic():
        for date, start, end in meetings:
            session = ClassSession(
                section=section, date=date, start_time=start, end_time=end, facility=section.facility
            )
            session.full_clean()
            sessions.append(session)
        return ClassSession.objects.bulk_create(sessions)


# --- audit -------------------------------------------------------------------------


def audit_log_prune(*, before, dry_run: bool = False) -> int:
    """Delete audit-log rows written before ``before`` (the retention period is over)."""
    from academy.models import AuditLog

    old = AuditLog.objects.filter(created_at__lt=before)
    if dry_run:
        return old.count()
    deleted, _ = old.delete()
    return deleted
