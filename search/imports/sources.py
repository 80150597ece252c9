"""The files `import_vectors` reads, as batches of raw upsert items with their line numbers.

A source is read from a position (a byte offset in a JSON Lines file, a row of a .npy
array), so that a resumed load starts where the last committed batch ended without
reading what came before (but for the id and metadata files of a .npy source, which are
read line by line up to that row).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson
from rest_framework.utils import json as drf_json

HEAD_BYTES = 1 << 20  # how much of a file its fingerprint digests


@dataclass(frozen=True)
class RawItem:
    """One record as the file has it: its line, and its JSON (or why it is not JSON)."""

    line: int
    item: Any = None
    error: str | None = None


@dataclass(frozen=True)
class RawBatch:
    items: list[RawItem]
    lines: int  # lines consumed, blank ones included
    end: int  # the position after this batch


class Source(Protocol):
    @property
    def description(self) -> str:
        """How a job names it: the file(s), so that a resume finds the same."""

    def count(self) -> int: ...

    def fingerprint(self) -> str: ...

    def batches(self, *, position: int, line: int, size: int) -> Iterator[RawBatch]: ...


def file_fingerprint(path: Path) -> str:
    """Size, modification time and a digest of the first MiB: changes whenever the file is
    rewritten, without reading a file of many GB through."""
    stat = path.stat()
    with path.open("rb") as file:
        head = hashlib.sha256(file.read(HEAD_BYTES)).hexdigest()[:16]
    return f"{stat.st_size}:{stat.st_mtime_ns}:{head}"


def count_lines(path: Path) -> int:
    lines, last = 0, b"\n"
    with path.open("rb") as file:
        while chunk := file.read(1 << 22):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


# orjson reads an integer beyond 64 bits as a float, where the API's parser keeps an int:
# a float this large may have been one (see _may_hold_a_long_integer).
LONG_INTEGER = 2.0**63


def parse_json(raw: bytes, *, record: bool = False) -> tuple[Any, str | None]:
    """A line as the API parses a body: strict JSON (no NaN or Infinity), UTF-8.

    orjson reads a line about 4x faster than the API's parser (the standard library's) and
    reads what it accepts to the same value, but for integers beyond 64 bits. A line it
    refuses (NaN, 1e400, a lone surrogate escape...) or that may hold such an integer is
    read again by the API's parser, so that the value, or the error, is the API's.
    `record`: the line is an upsert item, whose `vector` holds floats either way."""
    with contextlib.suppress(orjson.JSONDecodeError):
        value = orjson.loads(raw)
        if not _may_hold_a_long_integer(value, skip="vector" if record else None):
            return value, None
    try:
        return drf_json.loads(raw.decode(), parse_constant=drf_json.strict_constant), None
    except UnicodeDecodeError:
        return None, "malformed JSON (not UTF-8)"
    except RecursionError:
        return None, "malformed JSON (nested too deeply)"
    except ValueError as error:
        return None, f"malformed JSON ({error})"


def _may_hold_a_long_integer(value: Any, *, skip: str | None) -> bool:
    """Whether a float as large as LONG_INTEGER is in the value, but under its top-level
    key `skip`."""
    stack = [v for k, v in value.items() if k != skip] if isinstance(value, dict) else [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if abs(item) >= LONG_INTEGER:
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@dataclass(frozen=True)
class JsonLinesSource:
    """One upsert item a line (the API's item format); blank lines are skipped."""

    path: Path

    @property
    def description(self) -> str:
        return str(self.path)

    def count(self) -> int:
        return count_lines(self.path)

    def fingerprint(self) -> str:
        return file_fingerprint(self.path)

    def batches(self, *, position: int, line: int, size: int) -> Iterator[RawBatch]:
        with self.path.open("rb") as file:
            file.seek(position)
            while True:
                items: list[RawItem] = []
                lines = 0
                while len(items) < size:
                    raw = file.readline()
                    if not raw:
                        break
                    lines += 1
                    position += len(raw)
                    if raw.strip():
                        item, error = parse_json(raw, record=True)
                        items.append(RawItem(line=line + lines, item=item, error=error))
                if not lines:
                    return
                line += lines
                yield RawBatch(items=items, lines=lines, end=position)


@dataclass(frozen=True)
class NumpySource:
    """Vectors in a 2-D .npy array, their ids one a line in a text file, and optionally
    their metadata one JSON object (or null) a line: line N of each is row N of the array."""

    vectors: Path
    ids: Path
    metadata: Path | None = None

    @property
    def description(self) -> str:
        parts = [str(self.vectors), f"--ids {self.ids}"]
        if self.metadata is not None:
            parts.append(f"--metadata {self.metadata}")
        return " ".join(parts)

    def array(self) -> np.ndarray[Any, Any]:
        array: np.ndarray[Any, Any] = np.load(self.vectors, mmap_mode="r", allow_pickle=False)
        if array.ndim != 2 or array.dtype.kind not in "fiu":
            raise ValueError(f"{self.vectors}: expected a 2-D array of numbers, found {array.ndim}-D {array.dtype}")
        return array

    def count(self) -> int:
        rows = len(self.array())
        for path in (self.ids, self.metadata):
            if path is not None and (lines := count_lines(path)) != rows:
                raise ValueError(f"{path} has {lines} lines for the {rows} rows of {self.vectors}")
        return rows

    def fingerprint(self) -> str:
        paths = [self.vectors, self.ids] + ([self.metadata] if self.metadata else [])
        return hashlib.sha256("|".join(file_fingerprint(path) for path in paths).encode()).hexdigest()[:32]

    def batches(self, *, position: int, line: int, size: int) -> Iterator[RawBatch]:
        array = self.array()
        with self.ids.open("rb") as ids, _open_or_none(self.metadata) as metadata:
            for _ in range(position):  # to the resumed row
                ids.readline()
                if metadata is not None:
                    metadata.readline()
            for start in range(position, len(array), size):
                rows = array[start : start + size].tolist()  # Python numbers, as JSON would give
                items = []
                for offset, vector in enumerate(rows):
                    number = start + offset + 1
                    item: dict[str, Any] = {"id": ids.readline().rstrip(b"\r\n").decode(errors="surrogateescape")}
                    item["vector"] = vector
                    error = None
                    raw = metadata.readline() if metadata is not None else b""
                    if raw.strip():  # a blank line, like null, is a row without metadata
                        value, error = parse_json(raw)
                        error = f"metadata: {error}" if error else None
                        if value is not None:
                            item["metadata"] = value
                    items.append(RawItem(line=number, item=item, error=error))
                yield RawBatch(items=items, lines=len(rows), end=start + len(rows))


def _open_or_none(path: Path | None) -> Any:
    return path.open("rb") if path is not None else contextlib.nullcontext()


def open_source(path: Path, *, ids: Path | None, metadata: Path | None) -> Source:
    """The source a file names: a .npy array (with its id file) or JSON Lines."""
    for given in (path, ids, metadata):
        if given is not None and not given.is_file():
            raise FileNotFoundError(f"{given}: no such file")
    if path.suffix == ".npy":
        if ids is None:
            raise ValueError("a .npy file needs --ids, a text file with one id a line")
        return NumpySource(vectors=path.resolve(), ids=ids.resolve(), metadata=metadata.resolve() if metadata else None)
    if ids is not None or metadata is not None:
        raise ValueError("--ids and --metadata go with a .npy file; a JSON Lines file carries its own")
    return JsonLinesSource(path=path.resolve())
