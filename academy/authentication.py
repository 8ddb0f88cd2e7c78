"""API token authentication that reads the token and its user from the cache.

DRF's ``TokenAuthentication`` reads the token with its user from the database on every
request. Here that read is kept in the default cache beside the user's grants
(``academy.authz``), under the same global version, so everything that forgets the
grants forgets the tokens too: the user saved (deactivated, say) or deleted, their
groups, permissions or locations changed, and a token deleted (revoked: connected in
``academy.apps``). A request with a known token costs two cache reads (the version and
the entry) and no query; the grants, where the request needs them, are cached apart
(a parent's request reads none). A token older than ``API_TOKEN_DAYS`` is refused (401,
saying so); a new one comes from ``auth/token/`` or the user's token page.

The user is cached without its password hash: the field is deferred, so the hash never
sits in the cache, and a later ``save()`` of that object writes only the fields it has.
"""

import hashlib

from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from academy import authz
from academy.services import api_token_expired, api_token_expires


def token_cache_key(key: str, version: str | None = None) -> str:
    version = version or authz.version()
    return f"authz:{version}:token:{hashlib.sha256(key.encode()).hexdigest()}"


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        version = authz.version()
        cache_key = token_cache_key(key, version)
        cached = cache.get(cache_key)
        if cached is None:
            cached = super().authenticate_credentials(key)  # AuthenticationFailed for a bad or inactive one
            cached[0].__dict__.pop("password", None)  # deferred: not cached, not written back by save()
            cache.set(cache_key, cached, authz.TTL)
        if api_token_expired(cached[1]):
            raise AuthenticationFailed(
                f"This API token expired on {api_token_expires(cached[1]):%Y-%m-%d}: get a new one from "
                "POST /api/v1/auth/token/ or rotate it on your API token page."
            )
        authz.remember_version(cached[0], version)  # the grants need not read it again
        return cached
