"""Errors the services raise; the API turns each into the Upstash error envelope."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    @property
    def message(self) -> str:
        return str(self)


class InvalidInput(ServiceError):
    status = 400


class SemanticError(ServiceError):
    """Well-formed but not acceptable for this index (Upstash answers 422)."""

    status = 422


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class TooManyActiveQueries(ServiceError):
    status = 429
