"""PostgreSQL backend that starts the embedded server before the first connection."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from django.db.backends.postgresql import base
from django.db.backends.utils import CursorWrapper

from vecsite.embedded_db import ensure_embedded_server


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        location = ensure_embedded_server()
        self.settings_dict.update(HOST=location.host, PORT=str(location.port), USER=location.user)
        return super().get_connection_params()

    def _nodb_cursor(self) -> AbstractContextManager[CursorWrapper]:  # the test runner creates its database here
        location = ensure_embedded_server()
        self.settings_dict.update(HOST=location.host, PORT=str(location.port), USER=location.user)
        return super()._nodb_cursor()
