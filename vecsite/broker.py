"""The filesystem broker (``make run``'s default) with messages that appear whole.

kombu's filesystem transport creates a message's file and then writes it, while a
consumer takes any file it finds and reads it without waiting: under load the worker
reads an empty file and dies ("Unrecoverable error: JSONDecodeError"; the load suite,
bench/loadtest.py, found it at 4 clients). Here each message is written under a name
consumers ignore and then renamed into place, which is atomic on one filesystem.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]  # kombu's publish passes keywords too
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Consumers take names containing ".<queue>.msg": this one has none.
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
