"""The one exception type of the filter package."""

from __future__ import annotations


class FilterError(ValueError):
    """A filter that cannot be parsed or is over a limit.

    ``message`` is meant for the API client as is (it already names the position);
    ``position`` is the 0-based character offset in the filter text, or ``None`` when
    the problem has no single place (e.g. the whole filter is too long).
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __reduce__(self) -> tuple[type[FilterError], tuple[str, int | None]]:
        return (type(self), (self.message, self.position))
