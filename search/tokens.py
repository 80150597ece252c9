"""Index tokens: random, shown once, stored only as SHA-256 digests.

A token has 256 bits of entropy, so a fast digest is enough (no password hashing);
the digest lets a request find its index with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
