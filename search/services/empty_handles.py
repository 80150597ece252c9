"""Handles of resumable queries that never started, because their namespace did not exist.

The hosted service answers such a start with `uuid: ""`. The Python SDK (0.8.1 on) then
skips `next` and `end`, but the JavaScript SDK refuses both on an empty uuid, so a program
that works against the hosted service would crash here. So vecsite answers with a real
UUID that needs no state: 8 random bytes and a MAC of them with the index, tied to the
server's SECRET_KEY. `next` on it answers `[]` and `end` succeeds (docs/api.md#resumable-query).
Nothing is stored, so nothing expires, nothing counts against the index's cap on active
queries, and a stopped one can still be "stopped" again: it is the same empty query.
"""

from __future__ import annotations

import hmac
import secrets
import uuid

from django.utils.crypto import salted_hmac

from search.models import Index

_SALT = "vecsite.resumable.empty-handle"


def _signed(index: Index, nonce: bytes) -> bytes:
    mac = bytearray(salted_hmac(_SALT, f"{index.pk}:{nonce.hex()}", algorithm="sha256").digest()[:8])
    mac[0] = (mac[0] & 0x3F) | 0x80  # the RFC 9562 variant bits
    return nonce + bytes(mac)


def empty_handle_new(*, index: Index) -> uuid.UUID:
    """A new handle for an empty query on this index: a version-8 UUID (real handles are
    version 4, so the two never meet)."""
    nonce = bytearray(secrets.token_bytes(8))
    nonce[6] = (nonce[6] & 0x0F) | 0x80  # version 8
    return uuid.UUID(bytes=_signed(index, bytes(nonce)))


def empty_handle_is(*, index: Index, handle: uuid.UUID) -> bool:
    """Whether this handle is an empty query's handle made for this index."""
    raw = handle.bytes
    return handle.version == 8 and hmac.compare_digest(_signed(index, raw[:8]), raw)
