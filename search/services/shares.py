"""Fair shares of an index's resumable queries (docs/api.md#fair-shares).

Each handle records who started it. API clients share the index's cap on active queries
(`Index.max_active_queries`), and one token may hold at most VECSITE_RESUMABLE_TOKEN_SHARE
of it, so that neither of an index's two tokens can take every handle from the other.
The search page's visitors share a pool of their own (VECSITE_PAGE_MAX_ACTIVE), and one
client address may hold at most VECSITE_PAGE_MAX_ACTIVE_PER_ADDRESS of it. So neither the
page nor the API can starve the other, and no single client can starve either."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.utils.crypto import salted_hmac

from search.errors import TooManyActiveQueries, TooManyOwnQueries
from search.models import Index, ResumableQuery

TOKEN_POOL = "token:"  # noqa: S105 - a prefix of holder keys, not a secret
PAGE_POOL = "page:"


@dataclass(frozen=True)
class Holder:
    """Who starts a resumable query: `key` is stored on its handle, and every key that
    starts with `pool` counts against the same cap."""

    key: str
    pool: str

    @property
    def is_page(self) -> bool:
        return self.pool == PAGE_POOL


READ_WRITE_TOKEN = Holder(key=f"{TOKEN_POOL}rw", pool=TOKEN_POOL)
READ_ONLY_TOKEN = Holder(key=f"{TOKEN_POOL}ro", pool=TOKEN_POOL)


def token_holder(*, readonly: bool) -> Holder:
    return READ_ONLY_TOKEN if readonly else READ_WRITE_TOKEN


def page_holder(*, address: str) -> Holder:
    """A search page visitor, known by a digest of their address (the address itself is
    not stored)."""
    digest = salted_hmac("vecsite.page-holder", address, algorithm="sha256").hexdigest()[:16]
    return Holder(key=f"{PAGE_POOL}{digest}", pool=PAGE_POOL)


def caps(index: Index, holder: Holder) -> tuple[int, int]:
    """The holder's pool's cap, and the holder's own."""
    if holder.is_page:
        return settings.VECSITE_PAGE_MAX_ACTIVE, settings.VECSITE_PAGE_MAX_ACTIVE_PER_ADDRESS
    cap = index.max_active_queries
    return cap, max(1, math.ceil(cap * settings.VECSITE_RESUMABLE_TOKEN_SHARE))


def share_check(*, index: Index, holder: Holder) -> None:
    """Refuse one more active query for this holder when its pool or its own share is
    full. The caller holds the index's row lock, so concurrent starts cannot overshoot."""
    pool_cap, own_cap = caps(index, holder)
    counts = (
        ResumableQuery.objects.filter(index=index)
        .active()
        .aggregate(
            pool=Count("pk", filter=Q(holder__startswith=holder.pool)), own=Count("pk", filter=Q(holder=holder.key))
        )
    )
    if counts["pool"] >= pool_cap:
        full = (
            f"the search page already has {counts['pool']} active resumable queries (its limit is {pool_cap})"
            if holder.is_page
            else f"this index already has {counts['pool']} active resumable queries (the limit is {pool_cap})"
        )
        raise TooManyActiveQueries(f"{full}; stop some with resumable-query-end or let them expire")
    if counts["own"] >= own_cap:
        share = (
            "the most one address may hold (VECSITE_PAGE_MAX_ACTIVE_PER_ADDRESS)"
            if holder.is_page
            else f"its share of the {pool_cap} allowed (VECSITE_RESUMABLE_TOKEN_SHARE)"
        )
        who = "this address" if holder.is_page else "this token"
        raise TooManyOwnQueries(
            f"{who} already holds {counts['own']} of this index's active resumable queries, {share}; "
            "stop some with resumable-query-end or let them expire"
        )
