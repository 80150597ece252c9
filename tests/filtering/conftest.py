from __future__ import annotations

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper


@pytest.fixture
def pg_conn(db: None) -> BaseDatabaseWrapper:
    """Django's connection to the test database (real Postgres), inside the test's transaction."""
    from django.db import connection

    return connection
