"""PostgreSQL backend that starts the embedded server before the first connection."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base

from vecsite.embedded_db import ensure_embedded_server


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        location = ensure_embedded_server()
        self.settings_dict.update(HOST=location.host, PORT=str(location.port), USER=location.user)
        return super().get_connection_params()

    def _nodb_cursor(self):  # used by the test runner to create the test database
        location = ensure_embedded_server()
        self.settings_dict.update(HOST=location.host, PORT=str(location.port), USER=location.user)
        return super()._nodb_cursor()
