from __future__ import annotations

import pytest

from tests.resumable.processes import database_url


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker) -> str:
    """The test database as a URL a child process can use."""
    with django_db_blocker.unblock():
        return database_url()


@pytest.fixture
def credentials(transactional_db, make_index):
    """An index the child server sees: committed, not inside a test transaction."""
    return make_index("served")
