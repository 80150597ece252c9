"""Every request body is JSON, whatever its Content-Type says (the Go SDK sends none)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser


class AnyContentJSONParser(JSONParser):
    media_type = "*/*"


class JSONOnlyNegotiation(DefaultContentNegotiation):
    def select_parser(self, request, parsers):  # noqa: ANN001, ANN201
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):  # noqa: ANN001, ANN201
        renderer = renderers[0]
        return renderer, renderer.media_type
