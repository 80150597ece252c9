"""One interface over the service layer and the HTTP API, and what a call can be seen to
do from outside: its wall time, and the handle's public progress before and after it
(a refill shows as a merge: a side's horizon, scan size or phase moved on)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid as uuid_module
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.data import SparseQuery


class Client:
    label = ""

    def start(self, vector: Any, top_k: int, filter_text: str = "") -> tuple[str, list[str]]:
        raise NotImplementedError

    def next(self, handle: str, k: int) -> list[str]:
        raise NotImplementedError

    def end(self, handle: str) -> None:
        raise NotImplementedError


class ServiceClient(Client):
    label = "service"

    def __init__(self, index: Any, namespace: str, *, weighting: str = "", fusion: str = "") -> None:
        self.index = index
        self.namespace = namespace
        self.weighting = weighting  # "IDF" weights a sparse query's dimensions
        self.fusion = fusion  # "RRF" or "DBSF" for a hybrid query

    def parts(self, query: np.ndarray | SparseQuery) -> tuple[list[float] | None, Any]:
        """The dense and sparse parts of a query, as this client's index takes them."""
        if isinstance(query, SparseQuery):
            dense = query.dense.tolist() if query.dense is not None and self.index.has_dense else None
            return dense, query.sparse
        return query.tolist(), None

    def spec(self, vector: np.ndarray | SparseQuery, top_k: int, filter_text: str) -> Any:
        from search.filtering import CompiledFilter
        from search.models import Fusion, Weighting
        from search.services.specs import QuerySpec

        dense, sparse = self.parts(vector)
        return QuerySpec(
            namespace=self.namespace,
            vector=dense,
            sparse=sparse,
            top_k=top_k,
            filter=CompiledFilter.compile(filter_text) if filter_text else None,
            weighting=Weighting(self.weighting) if self.weighting and sparse is not None else None,
            fusion=Fusion(self.fusion or "RRF"),
        )

    def start(self, vector: np.ndarray | SparseQuery, top_k: int, filter_text: str = "") -> tuple[str, list[str]]:
        from search.services.resumable import resumable_query_start

        batch = resumable_query_start(index=self.index, spec=self.spec(vector, top_k, filter_text), max_idle=3600)
        return str(batch.handle), [r.id for r in batch.records]

    def query(self, vector: np.ndarray | SparseQuery, top_k: int, filter_text: str = "") -> list[str]:
        """An ordinary (not resumable) query, through the service layer."""
        from search.services.query import query

        return [r.id for r in query(index=self.index, spec=self.spec(vector, top_k, filter_text))]

    def next(self, handle: str, k: int) -> list[str]:
        from search.services.resumable import resumable_query_next

        batch = resumable_query_next(index=self.index, handle=uuid_module.UUID(handle), additional_k=k)
        return [r.id for r in batch.records]

    def end(self, handle: str) -> None:
        from search.services.resumable import resumable_query_end

        resumable_query_end(index=self.index, handle=uuid_module.UUID(handle))


class HttpClient(Client):
    label = "http"

    def __init__(self, base_url: str, token: str, namespace: str) -> None:
        import httpx

        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=600.0, http2=False
        )
        self.suffix = f"/{namespace}" if namespace else ""

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        payload = response.json()
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: {response.status_code} {payload}")
        return payload["result"]

    def start(self, vector: np.ndarray, top_k: int, filter_text: str = "") -> tuple[str, list[str]]:
        body: dict[str, Any] = {"vector": vector.tolist(), "topK": top_k, "maxIdle": 3600}
        if filter_text:
            body["filter"] = filter_text
        result = self._post(f"/resumable-query{self.suffix}", body)
        return result["uuid"], [r["id"] for r in result["scores"]]

    def next(self, handle: str, k: int) -> list[str]:
        return [r["id"] for r in self._post("/resumable-query-next", {"uuid": handle, "additionalK": k})]

    def end(self, handle: str) -> None:
        self._post("/resumable-query-end", {"uuid": handle})

    def close(self) -> None:
        self.http.close()


# --- what a call did, seen from outside ------------------------------------------------


@dataclass(frozen=True)
class SideState:
    """One side of a handle's public progress (search.progress.SideProgress), as read."""

    phase: str
    horizon: tuple[float, int] | None
    scanned: int
    buffered: int
    exhausted: bool
    refill_requested: bool

    @property
    def position(self) -> tuple[object, ...]:
        """What a merge of fetched candidates moves on (the phase, the horizon, the scan size)."""
        return (self.phase, self.horizon, self.scanned, self.exhausted)


@dataclass(frozen=True)
class BufferState:
    """A handle's public progress (ResumableQuery.progress), read between calls."""

    dense: SideState | None
    sparse: SideState | None

    @classmethod
    def of(cls, handle: str) -> BufferState | None:
        from search.models import ResumableQuery

        row = ResumableQuery.objects.filter(uuid=handle).only("progress").first()
        if row is None:
            return None

        def side(progress: Any) -> SideState:
            horizon = progress.horizon
            return SideState(
                phase=str(progress.phase),
                horizon=(horizon.distance, horizon.pk) if horizon is not None else None,
                scanned=progress.scanned,
                buffered=progress.buffered,
                exhausted=progress.exhausted,
                refill_requested=progress.refill_requested is not None,
            )

        return cls(dense=side(row.progress.dense), sparse=side(row.progress.sparse))

    @property
    def sides(self) -> list[SideState]:
        return [s for s in (self.dense, self.sparse) if s is not None]

    @property
    def buffered(self) -> int:
        return sum(s.buffered for s in self.sides)

    @property
    def scanned(self) -> int:
        return sum(s.scanned for s in self.sides)

    @property
    def requested(self) -> bool:
        return any(s.refill_requested for s in self.sides)

    def merged_since(self, earlier: BufferState) -> bool:
        """Whether candidates were merged into a buffer between `earlier` and this state."""
        before = {i: s.position for i, s in enumerate(earlier.sides)}
        return any(before.get(i) != s.position for i, s in enumerate(self.sides))

    def phases(self) -> str:
        return "+".join(s.phase for s in self.sides if s.scanned or s.horizon is not None) or "-"


NO_BUFFER = BufferState(dense=None, sparse=None)


@dataclass(frozen=True)
class Call:
    """One timed call: its wall time, its results, the buffer read just before and just
    after it, and whether a background refill merged between the previous call and this
    one. A refill *during* the call is a merge seen between `before` and `after`: the call
    either did it (and waited for it) or one landed from the background meanwhile."""

    ms: float
    ids: list[str]
    before: BufferState
    after: BufferState
    merged_before: bool = False  # a merge (from the background) since the previous call
    statements: list[dict[str, Any]] | None = None  # with trace=True: the call's SQL

    @property
    def refilled(self) -> bool:
        return self.after.merged_since(self.before)

    @property
    def added(self) -> int:
        """Candidates merged during the call, net: the buffer's growth plus what it handed
        out (less any it dropped as stale, which the public progress does not count apart;
        negative when a switch from the ANN phase to the exact phase emptied the buffer)."""
        return self.after.buffered - self.before.buffered + len(self.ids)

    @property
    def queued(self) -> bool:
        """Whether the call asked for a background refill."""
        return self.after.requested and not self.before.requested

    def refill(self) -> dict[str, Any]:
        """The refill that landed during this call, as the report logs it (`ms` is the whole call's)."""
        before, after = self.before.phases(), self.after.phases()
        kind = "first" if not self.before.sides else after if before in (after, "-") else f"{before}->{after}"
        return {
            "ms": round(self.ms, 2),
            "added": self.added,
            "kind": kind,
            "scanned": self.after.scanned,
            "buffered_after": self.after.buffered,
        }


def timed_next(
    client: Client, handle: str, k: int, previous: BufferState | None = None, *, trace: bool = False
) -> Call:
    """client.next(handle, k), timed; the buffer is read (untimed) just before and after
    it. `previous` (the last call's `after`) tells whether a merge landed in between;
    `trace` logs the call's SQL."""
    before = BufferState.of(handle) or NO_BUFFER
    with sql_trace() if trace else contextlib.nullcontext() as statements:
        t0 = time.perf_counter()
        ids = client.next(handle, k)
        ms = (time.perf_counter() - t0) * 1000
    after = BufferState.of(handle) or before
    merged_before = previous is not None and before.merged_since(previous)
    return Call(ms=ms, ids=ids, before=before, after=after, merged_before=merged_before, statements=statements)


def timed_start(client: Client, query: Any, top_k: int, filter_text: str = "") -> tuple[str, Call]:
    t0 = time.perf_counter()
    handle, ids = client.start(query, top_k, filter_text)
    ms = (time.perf_counter() - t0) * 1000
    return handle, Call(ms=ms, ids=ids, before=NO_BUFFER, after=BufferState.of(handle) or NO_BUFFER)


def advance(client: Client, handle: str, got: int, depth: int, step: int) -> tuple[int, list[str], list[Call]]:
    """Page the handle with next(step) (untimed for the figures) until `depth` results
    have been returned; returns (results returned, their ids, the calls)."""
    ids: list[str] = []
    calls: list[Call] = []
    previous: BufferState | None = None
    while got < depth:
        call = timed_next(client, handle, min(step, depth - got), previous)
        calls.append(call)
        previous = call.after
        if not call.ids:
            break
        got += len(call.ids)
        ids.extend(call.ids)
    return got, ids, calls


@contextlib.contextmanager
def sql_trace() -> Iterator[list[dict[str, Any]]]:
    """Each SQL statement run on this process's connection, with its duration (COMMIT is not a
    statement here: it is in the call's total but not in this list)."""
    from django.db import connection

    statements: list[dict[str, Any]] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            text = " ".join(sql.split())
            statements.append({"ms": round((time.perf_counter() - t0) * 1000, 3), "sql": text[:160]})

    with connection.execute_wrapper(wrapper):
        yield statements
