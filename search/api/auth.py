"""Bearer tokens: the token alone decides which index a request acts on."""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from search.models import Index
from search.tokens import hash_token


@dataclass(frozen=True)
class IndexAccess:
    index: Index
    readonly: bool


class IndexTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[None, IndexAccess]:
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

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="vecsite"'


class IndexTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # its registering __init_subclass__ is untyped
    """Describes the bearer token in the OpenAPI document."""

    target_class = IndexTokenAuthentication
    name = "indexToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The index's token, or its read-only token for reads.",
        }


class HasIndexToken(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        access = request.auth
        if not isinstance(access, IndexAccess):
            return False
        if getattr(view, "writes", False) and access.readonly:
            self.message = "This token is read-only; use the index's read-write token for writes."
            return False
        return True
