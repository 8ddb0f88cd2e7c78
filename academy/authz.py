"""What a user is allowed: role names, permission codes and location limits, read once
and kept in the cache across requests.

Every staff request needs all three (the navigation, ``RolePermission`` and
``students_visible_to``); read from the database they cost four queries per request,
more than the page itself on a cheap search. ``grants_for(user)`` reads them once per
user and keeps them in the default cache (Redis in production) under a key that holds a
global version. Any change that could alter what somebody may do bumps the version
(``invalidate``, connected in ``academy.apps``): group membership, group or user
permissions, location limits, a group or permission saved or deleted, and a user saved
(except the ``last_login`` stamp of every login). A change made behind Django's back
(raw SQL, ``QuerySet.update``) is picked up when the entry expires after ``TTL``
seconds; call ``invalidate()`` after such a change.

Without Redis each process has its own local-memory cache, so a change made in one
process reaches another one's users when their entry expires: run one process, or set
``REDIS_URL``, where that matters.
"""

from typing import NamedTuple
from uuid import uuid4

from django.core.cache import cache

from academy.roles import STAFF_ROLES

TTL = 300
VERSION_KEY = "authz:version"


class Grants(NamedTuple):
    roles: frozenset[str]
    permissions: frozenset[str]
    # None: every location (no limits); otherwise the ids of the locations.
    location_ids: frozenset | None


def invalidate(**signal_kwargs) -> None:
    """Forget every cached grant (a signal receiver, so it takes and ignores kwargs)."""
    cache.set(VERSION_KEY, uuid4().hex, None)


def version() -> str:
    """The current version of every cached grant (and API token, ``academy.authentication``)."""
    current = cache.get(VERSION_KEY)
    if current is None:
        cache.add(VERSION_KEY, uuid4().hex, None)  # add: concurrent first requests agree
        current = cache.get(VERSION_KEY)
    return current


def _read(user) -> Grants:
    from django.contrib.auth.backends import ModelBackend  # imports the user model: not at module level

    backend = ModelBackend()
    permissions = backend._get_permissions(user, None, "user") | backend._get_permissions(user, None, "group")
    roles = frozenset(group.name for group in user.groups.all())
    location_ids = frozenset()  # not staff: no location through staff views
    if user.is_superuser:
        location_ids = None
    elif roles & STAFF_ROLES:
        location_ids = frozenset(location.pk for location in user.locations.all()) or None
    return Grants(roles=roles, permissions=frozenset(permissions), location_ids=location_ids)


def grants_for(user) -> Grants:
    """``user``'s grants: from the user object, else the cache, else the database."""
    grants = getattr(user, "_grants", None)
    if grants is not None:
        return grants
    if user.is_anonymous or user._state.adding:
        grants = Grants(frozenset(), frozenset(), frozenset())
    else:
        key = f"authz:{user.__dict__.pop('_authz_version', None) or version()}:{user.pk}"
        grants = cache.get(key)
        if grants is None:
            grants = _read(user)
            cache.set(key, grants, TTL)
    user._grants = grants
    return grants


def remember_version(user, current: str) -> None:
    """The version just read for this request (token authentication): ``grants_for``
    uses it instead of reading it again."""
    user._authz_version = current


def user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    invalidate()


def forget(user) -> None:
    """Drop what ``user`` (this object) remembers of its grants, after changing them."""
    for name in ("_grants", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(name, None)
