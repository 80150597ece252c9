"""Where vecsite keeps its local state: everything lives under one var directory.

``VECSITE_VAR_DIR`` (default ``<repo>/var``) holds the embedded database's data
(``pgdata``), the filesystem Celery broker (``broker``) and beat's schedule
(``celerybeat-schedule``). ``VECSITE_PGDATA`` may put the database elsewhere.
This module reads only the environment, so it works before Django is configured.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "")
    return Path(value).expanduser().resolve() if value else None


def var_dir() -> Path:
    """``$VECSITE_VAR_DIR``, else ``<repo>/var``."""
    return _env_path("VECSITE_VAR_DIR") or BASE_DIR / "var"


def pgdata_dir() -> Path:
    """The embedded server's data directory: ``$VECSITE_PGDATA``, else ``<var>/pgdata``."""
    return _env_path("VECSITE_PGDATA") or var_dir() / "pgdata"
