"""A filter parsed once: its text with the SQL it compiles to, ready to run again.

The column is the vector table's metadata, qualified so that the clause stays valid in
joins. A handle keeps the compiled form, so its filter is never parsed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .parser import parse_filter
from .sql import filter_to_sql

METADATA_COLUMN = '"search_vector"."metadata"'


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    text: str
    sql: str
    params: tuple[Any, ...]

    @classmethod
    def compile(cls, text: str) -> CompiledFilter:
        """Parse and compile; FilterError names what is wrong and where. A blank filter
        compiles to one that matches every record."""
        sql, params = filter_to_sql(parse_filter(text), column=METADATA_COLUMN)
        return cls(text=text, sql=sql, params=tuple(params))

    @property
    def matches_all(self) -> bool:
        return self.sql == "TRUE"
