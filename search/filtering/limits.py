"""Hard limits on filters; exceeding one is a FilterError (HTTP 400), never a 500."""

from __future__ import annotations

MAX_FILTER_LENGTH = 10_000  # characters
MAX_NESTING_DEPTH = 32  # levels of grouping parentheses
MAX_IN_VALUES = 1_000
MAX_PATH_DEPTH = 32  # segments, keys and indices together
MAX_ARRAY_INDEX = 2**31 - 1  # Postgres `jsonb -> int` takes an int4
MAX_NUMBER_EXPONENT = 1_000  # |decimal exponent| of a number literal; numeric's range is finite
