"""Bearer tokens: the token alone decides which index a request acts on."""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from search.models import Index
from search.tokens import hash_token


@dataclass(frozen=True)
class IndexAccess:
    index: Index
    readonly: bool


class IndexTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):  # noqa: ANN001, ANN201
        header = get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"bearer":
            raise AuthenticationFailed()
        try:
            token = header[1].decode()
        except UnicodeDecodeError:
            raise AuthenticationFailed() from None
        digest = hash_token(token)
        index = Index.objects.for_token_hash(digest).first()
        if index is None:
            raise AuthenticationFailed()
        return (None, IndexAccess(index=index, readonly=index.readonly_token_hash == digest))

    def authenticate_header(self, request) -> str:  # noqa: ANN001
        return 'Bearer realm="vecsite"'


class IndexTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI document."""

    target_class = IndexTokenAuthentication
    name = "indexToken"

    def get_security_definition(self, auto_schema):  # noqa: ANN001, ANN201
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The index's token, or its read-only token for reads.",
        }


class HasIndexToken(BasePermission):
    def has_permission(self, request, view) -> bool:  # noqa: ANN001
        access = request.auth
        if not isinstance(access, IndexAccess):
            return False
        if getattr(view, "writes", False) and access.readonly:
            self.message = "This token is read-only; use the index's read-write token for writes."
            return False
        return True
