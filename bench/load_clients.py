"""The load suite's clients: each one a loop of upserts, queries and resumable drains over
HTTP (httpx), checking every answer as it comes.

What a client checks: a success is ``{"result": ...}``; every other answer is the error
envelope ``{"error": str, "status": <the status>}``; a 5xx is an error unless it is a 503
with Retry-After while the suite holds the database down; a dropped connection is an
error unless the suite has just killed a web worker; no handle ever returns an id twice,
and a drain that was never interrupted returns every vector of its namespace exactly
once. Every upsert the server acknowledged is remembered, to be fetched at the end.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

OPS = ("upsert", "query", "start", "next", "end")
DROPPED = 0  # the status recorded for a request that got no answer


@dataclass
class Sample:
    op: str
    at: float  # seconds since the run started, when the request was sent
    ms: float
    status: int  # DROPPED when the connection failed
    phase: str


@dataclass
class Window:
    """When failures of one kind are the expected answer: 503s while the database is down,
    dropped connections around a worker kill."""

    kind: str  # "unavailable" or "dropped"
    start: float
    end: float | None = None  # still open

    def covers(self, sent: float, answered: float, grace: float) -> bool:
        """Whether a request in flight from `sent` to `answered` overlaps the window."""
        return answered >= self.start and (self.end is None or sent <= self.end + grace)


@dataclass
class Shared:
    """What the clients share with the suite: samples, problems, acknowledged writes."""

    base_url: str
    token: str
    dimension: int
    static_namespace: str
    static_ids: frozenset[str]
    live_namespace: str
    page: int = 50
    upsert_batch: int = 10
    started: float = field(default_factory=time.monotonic)
    phase: str = "steady"
    stopping: bool = False
    samples: list[Sample] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)  # id -> the seq its metadata holds
    drains: dict[str, int] = field(default_factory=lambda: {"complete": 0, "interrupted": 0, "cut_short": 0})
    duplicates: int = 0
    round: int = 0  # each run of the clients writes ids of its own

    def now(self) -> float:
        return time.monotonic() - self.started

    def expected(self, kind: str, sent: float, grace: float = 2.0) -> bool:
        answered = self.now()
        return any(window.kind == kind and window.covers(sent, answered, grace) for window in self.windows)

    def violation(self, message: str) -> None:
        if len(self.violations) < 200:
            self.violations.append(f"{self.now():.2f}s {self.phase}: {message}")


class Interrupted(Exception):
    """A call got an expected failure (503 during an outage, a drop after a kill)."""


class Client:
    def __init__(self, number: int, shared: Shared, http: httpx.AsyncClient, seed: int) -> None:
        self.number, self.shared, self.http = number, shared, http
        self.rng = random.Random(seed)
        self.seq = 0

    def vector(self) -> list[float]:
        return [self.rng.gauss(0, 1) for _ in range(self.shared.dimension)]

    async def call(self, op: str, path: str, body: Any) -> Any:
        """POST; the result on 200, else record and raise Interrupted (expected) or
        RuntimeError (a violation, already recorded)."""
        shared = self.shared
        at = shared.now()
        headers = {"Authorization": f"Bearer {shared.token}"}
        try:
            response = await self.http.post(f"{shared.base_url}/v1/{path}", json=body, headers=headers)
        except httpx.TransportError as error:
            shared.samples.append(Sample(op, at, (shared.now() - at) * 1000, DROPPED, shared.phase))
            if shared.expected("dropped", at):
                raise Interrupted from None
            shared.violation(f"{op}: connection failed ({type(error).__name__}: {error})")
            raise RuntimeError from None
        shared.samples.append(Sample(op, at, (shared.now() - at) * 1000, response.status_code, shared.phase))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code == 200 and isinstance(payload, dict) and "result" in payload:
            return payload["result"]
        if not (
            isinstance(payload, dict)
            and isinstance(payload.get("error"), str)
            and payload.get("status") == response.status_code
        ):
            shared.violation(f"{op}: {response.status_code} is not the error envelope: {response.text[:200]!r}")
            raise RuntimeError
        if response.status_code == 503 and response.headers.get("Retry-After") and shared.expected("unavailable", at):
            await asyncio.sleep(min(float(response.headers["Retry-After"]), 1.0))
            raise Interrupted
        shared.violation(f"{op}: {response.status_code} {payload['error']}")
        raise RuntimeError

    async def run(self) -> None:
        """Upsert, query, drain, in turn; client n starts at the n-th, so that even a few
        clients for a few seconds do all three."""
        actions = (self.upsert, self.query, self.drain)
        turn = self.number
        while not self.shared.stopping:
            try:
                await actions[turn % len(actions)]()
            except (Interrupted, RuntimeError):
                await asyncio.sleep(0.05)
            turn += 1

    async def upsert(self) -> None:
        self.seq += 1
        seq = self.seq
        records: list[dict[str, Any]] = [
            {
                "id": f"r{self.shared.round}-c{self.number}-{seq}-{i}",
                "vector": self.vector(),
                "metadata": {"client": self.number, "seq": seq},
            }
            for i in range(self.shared.upsert_batch)
        ]
        await self.call("upsert", f"upsert/{self.shared.live_namespace}", records)
        for record in records:
            self.shared.acknowledged[record["id"]] = seq

    async def query(self) -> None:
        namespace = self.shared.live_namespace if self.rng.random() < 0.5 else self.shared.static_namespace
        await self.call("query", f"query/{namespace}", {"vector": self.vector(), "topK": 10, "includeMetadata": True})

    async def drain(self) -> None:
        """A resumable query over the static namespace, page after page to the end. A page
        that fails as expected is asked for again on the same handle (it may then skip the
        lost page's ids, never repeat them)."""
        shared = self.shared
        body = {"vector": self.vector(), "topK": shared.page, "maxIdle": 300}
        first = await self.call("start", f"resumable-query/{shared.static_namespace}", body)
        handle, seen = first["uuid"], [s["id"] for s in first["scores"]]
        interrupted = finished = False
        try:
            while not shared.stopping:
                try:
                    page = await self.call("next", "resumable-query-next", {"uuid": handle, "additionalK": shared.page})
                except Interrupted:
                    interrupted = True
                    continue
                if not page:
                    finished = True
                    break
                seen.extend(score["id"] for score in page)
        finally:
            await self.end(handle)
            self.check_drain(handle, seen, finished=finished, interrupted=interrupted)

    async def end(self, handle: str) -> None:
        for _ in range(30):
            try:
                await self.call("end", "resumable-query-end", {"uuid": handle})
                return
            except Interrupted:
                continue
            except RuntimeError:
                return

    def check_drain(self, handle: str, seen: list[str], *, finished: bool, interrupted: bool) -> None:
        shared = self.shared
        repeated = len(seen) - len(set(seen))
        if repeated:
            shared.duplicates += repeated
            shared.violation(f"handle {handle} returned {repeated} id(s) twice")
        if not finished:
            shared.drains["cut_short"] += 1  # the run ended, or a call failed (recorded)
        elif interrupted:
            shared.drains["interrupted"] += 1
        elif set(seen) == shared.static_ids:
            shared.drains["complete"] += 1
        else:
            missing = len(shared.static_ids - set(seen))
            shared.violation(f"handle {handle}: an uninterrupted drain missed {missing} of the namespace's vectors")


async def run_clients(shared: Shared, count: int, seconds: float, seed: int) -> None:
    """`count` clients for `seconds`, each request on a connection of its own: with
    keep-alive, a server that closes an idle connection just as a client reuses it resets
    the request unread, which would hide a real drop among races no server can avoid."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    shared.stopping = False
    shared.round += 1
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) as http:
        tasks = [
            asyncio.create_task(Client(n, shared, http, seed * 100_000 + shared.round * 1000 + n).run())
            for n in range(count)
        ]
        await asyncio.sleep(seconds)
        shared.stopping = True
        await asyncio.gather(*tasks)
