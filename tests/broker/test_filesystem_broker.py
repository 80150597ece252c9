"""The filesystem broker never hands a consumer a half-written message. kombu's own
transport creates a message's file before serialising and writing it, so a consumer
polling meanwhile reads an empty file and the Celery worker dies on a JSONDecodeError;
large messages make that window wide enough to hit every time."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from queue import Empty
from typing import Any

from kombu import Connection
from kombu.transport import filesystem

from vecsite.broker import Transport

MESSAGES = 3
PAYLOAD = {"body": "x" * 10_000_000}  # serialising it takes tens of milliseconds


def publish(transport: type, folder: str) -> None:
    options = {"data_folder_in": folder, "data_folder_out": folder}
    with Connection("filesystem://", transport=transport, transport_options=options) as connection:
        channel: Any = connection.channel()  # a filesystem.Channel, typed as kombu's abstract one
        for _ in range(MESSAGES):
            channel._put("celery", PAYLOAD)


def consume_while_another_process_publishes(transport: type, folder: Path) -> tuple[int, int]:
    """(messages read whole, messages read broken)."""
    folder.mkdir()
    publisher = multiprocessing.get_context("fork").Process(target=publish, args=(transport, str(folder)))
    publisher.start()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    whole = broken = 0
    with Connection("filesystem://", transport=transport, transport_options=options) as connection:
        channel: Any = connection.channel()
        while whole + broken < MESSAGES:
            try:
                whole += channel._get("celery") == PAYLOAD
            except Empty:
                continue
            except ValueError:  # json.JSONDecodeError: the file was read before it was written
                broken += 1
    publisher.join()
    return whole, broken


def test_every_message_is_read_whole_while_another_process_publishes(tmp_path):
    assert consume_while_another_process_publishes(Transport, tmp_path / "queue") == (MESSAGES, 0)


def test_kombus_own_transport_hands_out_messages_before_they_are_written(tmp_path):
    # What the transport above fixes, shown on the same workload.
    _, broken = consume_while_another_process_publishes(filesystem.Transport, tmp_path / "queue")
    assert broken > 0


def test_the_app_takes_it_for_filesystem_urls_only() -> None:
    """filesystem:// means vecsite's transport; a process told to publish elsewhere (a test's
    Redis worker, say) gets that broker's own."""
    from vecsite.celery import app

    with app.connection_for_write("filesystem://") as connection:
        assert isinstance(connection.transport, Transport)
    with app.connection_for_write("redis://127.0.0.1:6379/14") as connection:
        assert not isinstance(connection.transport, Transport)
