"""The one exception type of the filter package."""

from __future__ import annotations


class FilterError(ValueError):
    """A filter that cannot be parsed or is over a limit.

    ``detail`` says what is wrong and where (it names the position); ``message`` is the
    same prefixed with the field, as API clients see it. ``position`` is the 0-based
    character offset in the filter text, or ``None`` when the problem has no single
    place (e.g. the whole filter is too long).
    """

    field = "filter"

    def __init__(self, detail: str, position: int | None = None) -> None:
        super().__init__(f"{self.field}: {detail}")
        self.detail = detail
        self.position = position

    @property
    def message(self) -> str:
        return str(self)

    def __reduce__(self) -> tuple[type[FilterError], tuple[str, int | None]]:
        return (type(self), (self.detail, self.position))
