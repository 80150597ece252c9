"""Where reading a buffer starts (its floor): past what was handed out, back down when a
refill stores nearer rows, and from the top again when the exact phase starts over."""

from __future__ import annotations

from search.models import Candidate, Component, ResumableQuery
from search.progress import Phase, Progress, SideProgress
from search.services.refill import Fetched, Refill, advance


def handle(side: SideProgress) -> ResumableQuery:
    return ResumableQuery(progress=Progress(dense=side))


def test_a_refill_that_stores_nearer_rows_lowers_the_floor() -> None:
    query = handle(SideProgress(phase=Phase.EXACT, floor=0.5, horizon=Candidate(9, 0.6), scanned=100))
    nearer = [Candidate(1, 0.3), Candidate(2, 0.7)]
    advance(query, Fetched(Refill(Component.DENSE, Phase.EXACT, 100), nearer, nearer[-1]), 2)
    assert query.progress.dense.floor == 0.3


def test_a_refill_of_farther_rows_keeps_the_floor() -> None:
    query = handle(SideProgress(phase=Phase.EXACT, floor=0.5, horizon=Candidate(9, 0.6), scanned=100))
    farther = [Candidate(1, 0.65), Candidate(2, 0.7)]
    advance(query, Fetched(Refill(Component.DENSE, Phase.EXACT, 100, after=Candidate(9, 0.6)), farther, farther[-1]), 2)
    assert query.progress.dense.floor == 0.5


def test_the_switch_to_the_exact_phase_reads_from_the_top_again() -> None:
    query = handle(SideProgress(phase=Phase.ANN, floor=0.5, reach=Candidate(3, 0.5), scanned=2_000))
    missed = [Candidate(7, 0.1), Candidate(8, 0.2)]
    exact = Refill(Component.DENSE, Phase.EXACT, 10_000, skip_handed_out=True)
    advance(query, Fetched(exact, missed, missed[-1]), 2)
    assert query.progress.dense.phase == Phase.EXACT
    assert query.progress.dense.floor is None
