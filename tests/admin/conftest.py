"""Admin fixtures: a staff superuser's client and indexes holding real vectors and queries."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.test import Client

from search.filtering import CompiledFilter
from search.models import Index
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_start
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    # The default PBKDF2 takes seconds per user here; these tests are about the admin.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(admin_client: Client) -> Client:
    """pytest-django's admin_client: logged in as a staff superuser."""
    return admin_client


def upsert(index: Index, namespace: str, count: int, *, prefix: str = "doc-", offset: int = 0) -> None:
    vectors_upsert(
        index=index,
        namespace=namespace,
        records=[
            RecordInput(
                id=f"{prefix}{i}",
                vector=[1.0, float(i % 7) + 0.5],
                metadata={"genre": "poetry" if i % 2 else "prose", "n": i},
                data=f"text of {prefix}{i}",
            )
            for i in range(offset, offset + count)
        ],
    )


def start_query(
    index: Index, namespace: str = "", *, top_k: int = 2, filter_text: str = "", max_idle: int = 600
) -> uuid.UUID:
    spec = QuerySpec(
        namespace=namespace,
        vector=[1.0, 1.0],
        top_k=top_k,
        include=Include(metadata=True),
        filter=CompiledFilter.compile(filter_text),
    )
    handle = resumable_query_start(index=index, spec=spec, max_idle=max_idle).handle
    assert handle is not None
    return handle


@pytest.fixture
def books(make_index: Callable[..., object]) -> Index:
    """An index with 12 vectors in the default namespace and 5 in "fr"."""
    index = make_index("books", dimension=2).index  # type: ignore[attr-defined]  # make_index returns IndexCredentials
    upsert(index, "", 12)
    upsert(index, "fr", 5, prefix="livre-")
    return index
