from __future__ import annotations

from rest_framework.renderers import JSONRenderer


class UpstashJSONRenderer(JSONRenderer):
    """Compact JSON; NaN and Infinity can never be written."""

    compact = True
    strict = True
