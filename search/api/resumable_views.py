"""The resumable-query endpoints (docs/api.md#resumable-queries): start, next, end."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from search.api import serializers as s
from search.api.views import ENVELOPE_ERROR, IndexView, ok, validated, wire
from search.services import resumable as resumable_service
from search.services.budget import query_budget_check
from search.services.empty_handles import empty_handle_is, empty_handle_new
from search.services.shares import token_holder
from search.services.specs import ResumableBatch


def start_resumable(view: IndexView, serializer_class: type[serializers.Serializer[Any]]) -> Response:
    data = validated(serializer_class, view.request.data).validated_data
    spec = s.query_spec(data, namespace=view.namespace())
    query_budget_check(index=view.index, specs=[spec])
    batch = resumable_service.resumable_query_start(
        index=view.index, spec=spec, max_idle=data.get("maxIdle"), holder=token_holder(readonly=view.access.readonly)
    )
    # A missing namespace starts no query; its handle is an empty one both SDKs can use.
    handle = batch.handle or empty_handle_new(index=view.index)
    return ok({"uuid": str(handle), "scores": wire_batch(batch)})


def wire_batch(batch: ResumableBatch) -> list[dict[str, Any]]:
    return [wire(record, batch.include) for record in batch.records]


@extend_schema(
    summary="Start a resumable query",
    request=s.ResumableQuerySerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 429: ENVELOPE_ERROR},
)
class ResumableQueryView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        return start_resumable(self, s.ResumableQuerySerializer)


@extend_schema(
    summary="Start a resumable query with raw text",
    request=s.ResumableQueryDataSerializer,
    responses={200: OpenApiTypes.OBJECT, 422: ENVELOPE_ERROR, 429: ENVELOPE_ERROR},
)
class ResumableQueryDataView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        return start_resumable(self, s.ResumableQueryDataSerializer)


@extend_schema(
    summary="Fetch the next results of a resumable query",
    request=s.ResumableNextSerializer,
    responses={200: OpenApiTypes.OBJECT, 404: ENVELOPE_ERROR},
)
class ResumableNextView(IndexView):
    def post(self, request: Request) -> Response:
        data = validated(s.ResumableNextSerializer, request.data).validated_data
        if data["uuid"] is None or empty_handle_is(index=self.index, handle=data["uuid"]):
            return ok([])  # the query on a missing namespace: it has nothing more
        batch = resumable_service.resumable_query_next(
            index=self.index, handle=data["uuid"], additional_k=data["additionalK"]
        )
        return ok(wire_batch(batch))


@extend_schema(
    summary="Stop a resumable query",
    request=s.ResumableEndSerializer,
    responses={200: OpenApiTypes.OBJECT, 404: ENVELOPE_ERROR},
)
class ResumableEndView(IndexView):
    def post(self, request: Request) -> Response:
        data = validated(s.ResumableEndSerializer, request.data).validated_data
        # The query on a missing namespace never started: there is nothing to stop.
        if data["uuid"] is not None and not empty_handle_is(index=self.index, handle=data["uuid"]):
            resumable_service.resumable_query_end(index=self.index, handle=data["uuid"])
        return ok("Success")
