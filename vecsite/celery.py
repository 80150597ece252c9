"""The Celery app. Periodic schedules are declared in settings.CELERY_BEAT_SCHEDULE."""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# filesystem:// URLs get vecsite's own transport: kombu's can hand the worker a
# half-written message (vecsite/broker.py). An alias, not broker_transport, so that a
# process told to publish to another broker (redis://...) uses that broker's transport.
TRANSPORT_ALIASES["filesystem"] = "vecsite.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vecsite.settings")

app = Celery("vecsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    # The embedded filesystem broker needs its folders before anyone publishes.
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = sender.conf.broker_transport_options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
