"""Errors the services raise. Each keeps the field it is about apart from its message,
so that each edge shows them its own way: the API and the commands as `field: message`
(`str(error)`), forms beside the field."""

from __future__ import annotations

from typing import Self


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def at(self, position: int) -> Self:
        """The same error for the item at `position` of a batch: `[2].vector`."""
        field = f"[{position}].{self.field}" if self.field else f"[{position}]"
        return type(self)(self.message, field=field)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(ServiceError):
    status = 400


class SemanticError(ServiceError):
    """Well-formed but not acceptable for this index (Upstash answers 422)."""

    status = 422


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    """The request clashes with what exists, e.g. renaming onto an existing namespace."""

    status = 409


class Forbidden(ServiceError):
    status = 403


class TooManyActiveQueries(ServiceError):
    status = 429


class TooManyOwnQueries(TooManyActiveQueries):
    """This client's share of the active queries is full, though others may start more."""


class Unavailable(ServiceError):
    """Something the server needs is missing (an index's embedding model): not the client's fault."""

    status = 503
