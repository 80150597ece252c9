"""The Upstash Vector REST endpoints: validate, call a service, wrap the result."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from search.api import serializers as s
from search.api.auth import HasIndexToken, IndexTokenAuthentication
from search.errors import InvalidInput, SemanticError, ServiceError
from search.models import Index
from search.services import info as info_service
from search.services import namespaces as namespace_service
from search.services import resumable as resumable_service
from search.services import search as search_service
from search.services import vectors as vector_service
from search.services.records import Include, StoredRecord

NAMESPACE_PARAMETER = OpenApiParameter(
    "namespace",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The namespace; leave the segment out for the default namespace.",
)
ENVELOPE_ERROR = inline_serializer("Error", {"error": serializers.CharField(), "status": serializers.IntegerField()})
NO_DATA_MODEL = (
    "Embedding data for this index is not allowed. The index must be created with an embedding model to use it."
)


def ok(result: Any) -> Response:
    return Response({"result": result})


def wire(record: StoredRecord, include: Include) -> dict[str, Any]:
    """A record in the wire shape: fields not asked for, or not set, are left out."""
    out: dict[str, Any] = {"id": record.id}
    if record.score is not None:
        out["score"] = record.score
    if include.vectors:
        if record.vector is not None:
            out["vector"] = record.vector
        if record.sparse is not None:
            out["sparseVector"] = {"indices": record.sparse.indices, "values": record.sparse.values}
    if include.metadata and record.metadata is not None:
        out["metadata"] = record.metadata
    if include.data and record.data is not None:
        out["data"] = record.data
    return out


def validated(serializer_class: type[serializers.Serializer], data: Any) -> serializers.Serializer:
    if not isinstance(data, dict):
        raise InvalidInput("must be a JSON object", field="body")
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


def as_items(data: Any) -> tuple[list[Any], bool]:
    """A body that is one object or an array of them; the flag says it was an array."""
    if isinstance(data, list):
        if len(data) > settings.VECSITE_MAX_BATCH:
            raise InvalidInput(f"at most {settings.VECSITE_MAX_BATCH} items per request", field="body")
        for position, item in enumerate(data):
            if not isinstance(item, dict):
                raise InvalidInput("must be a JSON object", field=f"[{position}]")
        return data, True
    if isinstance(data, dict):
        return [data], False
    raise InvalidInput("must be a JSON object or an array of objects", field="body")


def validated_many(
    serializer_class: type[serializers.Serializer], items: list[Any], batch: bool
) -> list[dict[str, Any]]:
    serializer = serializer_class(data=items, many=True)
    if not serializer.is_valid():
        errors = serializer.errors if batch else serializer.errors[0]
        raise ValidationError(errors)
    return list(serializer.validated_data)


class IndexSchema(AutoSchema):
    """Documents /command and /command/{namespace} as two operations of one view."""

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        return f"{operation_id}_in_namespace" if "{namespace}" in self.path else operation_id

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        return [*parameters, NAMESPACE_PARAMETER] if "{namespace}" in self.path else parameters


class IndexView(APIView):
    schema = IndexSchema()
    authentication_classes = [IndexTokenAuthentication]
    permission_classes = [HasIndexToken]
    writes = False

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The SDKs POST every command; the REST reference also documents GET, PUT and
        # DELETE with the same body, so those run the POST handler too (the schema lists
        # POST only). HEAD and PATCH stay refused: a probe must never run e.g. reset.
        if request.method in ("GET", "PUT", "DELETE"):
            return self.post(request, *args, **kwargs)  # type: ignore[attr-defined]
        return super().http_method_not_allowed(request, *args, **kwargs)

    @property
    def index(self) -> Index:
        return self.request.auth.index

    def namespace(self) -> str:
        return namespace_service.validate_namespace_name(self.kwargs.get("namespace") or "")

    def require_embedding_model(self) -> None:
        if not (self.index.embedding_model or self.index.sparse_embedding_model):
            raise SemanticError(NO_DATA_MODEL)


@extend_schema(
    summary="Upsert vectors",
    request=s.UpsertItemSerializer(many=True),
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 422: ENVELOPE_ERROR},
)
class UpsertView(IndexView):
    writes = True

    def post(self, request: Request, namespace: str = "") -> Response:
        items, batch = as_items(request.data)
        records = [s.record_from(item) for item in validated_many(s.UpsertItemSerializer, items, batch)]
        vector_service.vectors_upsert(index=self.index, namespace=self.namespace(), records=records)
        return ok("Success")


@extend_schema(
    summary="Upsert raw text, embedded by the index's model",
    request=s.UpsertDataItemSerializer(many=True),
    responses={200: OpenApiTypes.OBJECT, 422: ENVELOPE_ERROR},
)
class UpsertDataView(IndexView):
    writes = True

    def post(self, request: Request, namespace: str = "") -> Response:
        self.require_embedding_model()
        items, batch = as_items(request.data)
        validated_items = validated_many(s.UpsertDataItemSerializer, items, batch)
        from search.services import embedding as embedding_service

        embedding_service.upsert_data(index=self.index, namespace=self.namespace(), items=validated_items)
        return ok("Success")


@contextmanager
def _batch_position(position: int | None) -> Iterator[None]:
    """Name the failing query of a batch in its error, as upsert names the failing item."""
    try:
        yield
    except ServiceError as error:
        if position is None:
            raise
        field = f"[{position}].{error.field}" if error.field else f"[{position}]"
        message = str(error).removeprefix(f"{error.field}: ") if error.field else str(error)
        raise type(error)(message, field=field) from None


def _batch_result(results: list[list[dict[str, Any]]]) -> list[Any]:
    # A one-element batch answers with a flat list, like a single query; an empty batch
    # has nothing to answer.
    if len(results) == 1:
        return results[0]
    return results


def _run_query(view: IndexView, data: dict[str, Any], include: Include) -> list[dict[str, Any]]:
    records = search_service.query(
        index=view.index,
        namespace=view.namespace(),
        vector=data.get("vector"),
        sparse=data.get("sparseVector"),
        top_k=data["topK"],
        include=include,
        filter_text=data["filter"],
        weighting=data.get("weightingStrategy"),
        fusion=data.get("fusionAlgorithm"),
    )
    return [wire(record, include) for record in records]


@extend_schema(
    summary="Query nearest neighbours (one query or a batch)",
    request=s.QuerySerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 422: ENVELOPE_ERROR},
)
class QueryView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        items, batch = as_items(request.data)
        results = []
        for position, query in enumerate(validated_many(s.QuerySerializer, items, batch)):
            with _batch_position(position if batch else None):
                results.append(_run_query(self, query, s.include_from(query)))
        return ok(_batch_result(results))


@extend_schema(
    summary="Query with raw text, embedded by the index's model",
    request=s.QueryDataSerializer,
    responses={200: OpenApiTypes.OBJECT, 422: ENVELOPE_ERROR},
)
class QueryDataView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        self.require_embedding_model()
        items, batch = as_items(request.data)
        from search.services import embedding as embedding_service

        results = []
        for position, query in enumerate(validated_many(s.QueryDataSerializer, items, batch)):
            with _batch_position(position if batch else None):
                resolved = embedding_service.resolve_query(index=self.index, data=query)
                results.append(_run_query(self, resolved, s.include_from(query)))
        return ok(_batch_result(results))


def _start_resumable(view: IndexView, data: dict[str, Any], include: Include, kind: str, text: str = "") -> Response:
    handle, records = resumable_service.resumable_query_start(
        index=view.index,
        namespace=view.namespace(),
        vector=data.get("vector"),
        sparse=data.get("sparseVector"),
        top_k=data["topK"],
        include=include,
        filter_text=data["filter"],
        max_idle=data.get("maxIdle") or settings.VECSITE_RESUMABLE_DEFAULT_MAX_IDLE,
        kind=kind,
        query_text=text,
        weighting=data.get("weightingStrategy") or "",
        fusion=data.get("fusionAlgorithm") or "",
    )
    return ok({"uuid": str(handle) if handle else "", "scores": [wire(record, include) for record in records]})


@extend_schema(
    summary="Start a resumable query",
    request=s.ResumableQuerySerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 429: ENVELOPE_ERROR},
)
class ResumableQueryView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        serializer = validated(s.ResumableQuerySerializer, request.data)
        return _start_resumable(self, serializer.validated_data, serializer.include(), kind="vector")


@extend_schema(
    summary="Start a resumable query with raw text",
    request=s.ResumableQueryDataSerializer,
    responses={200: OpenApiTypes.OBJECT, 422: ENVELOPE_ERROR, 429: ENVELOPE_ERROR},
)
class ResumableQueryDataView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        self.require_embedding_model()
        serializer = validated(s.ResumableQueryDataSerializer, request.data)
        from search.services import embedding as embedding_service

        data = serializer.validated_data
        resolved = embedding_service.resolve_query(index=self.index, data=data)
        return _start_resumable(self, resolved, serializer.include(), kind="text", text=data["data"])


@extend_schema(
    summary="Fetch the next results of a resumable query",
    request=s.ResumableNextSerializer,
    responses={200: OpenApiTypes.OBJECT, 404: ENVELOPE_ERROR},
)
class ResumableNextView(IndexView):
    def post(self, request: Request) -> Response:
        data = validated(s.ResumableNextSerializer, request.data).validated_data
        if data["uuid"] is None:  # the query on a missing namespace: it has nothing more
            return ok([])
        include, records = resumable_service.resumable_query_next(
            index=self.index, uuid=data["uuid"], additional_k=data["additionalK"]
        )
        return ok([wire(record, include) for record in records])


@extend_schema(
    summary="Stop a resumable query",
    request=s.ResumableEndSerializer,
    responses={200: OpenApiTypes.OBJECT, 404: ENVELOPE_ERROR},
)
class ResumableEndView(IndexView):
    def post(self, request: Request) -> Response:
        data = validated(s.ResumableEndSerializer, request.data).validated_data
        if data["uuid"] is not None:  # the query on a missing namespace never started
            resumable_service.resumable_query_end(index=self.index, uuid=data["uuid"])
        return ok("Success")


@extend_schema(
    summary="Fetch vectors by id or id prefix",
    request=s.FetchSerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR},
)
class FetchView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        serializer = validated(s.FetchSerializer, request.data)
        data, include = serializer.validated_data, serializer.include()
        records = vector_service.vectors_fetch(
            index=self.index,
            namespace=self.namespace(),
            ids=data.get("ids"),
            prefix=data.get("prefix"),
            include=include,
        )
        return ok([wire(record, include) if record is not None else None for record in records])


@extend_schema(
    summary="Delete vectors by ids, id prefix or metadata filter",
    request=s.DeleteSerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR},
)
class DeleteView(IndexView):
    writes = True

    def post(self, request: Request, namespace: str = "") -> Response:
        body = request.data
        if isinstance(body, list) or isinstance(body, (str, int)) and not isinstance(body, bool):
            body = {"ids": body if isinstance(body, list) else [body]}  # the JS SDK's bare ids
        data = validated(s.DeleteSerializer, body).validated_data
        filter_sql = search_service.compile_filter(data.get("filter")) if data.get("filter") is not None else None
        if data.get("filter") is not None and filter_sql is None:
            raise InvalidInput("must not be empty", field="filter")
        deleted = vector_service.vectors_delete(
            index=self.index,
            namespace=self.namespace(),
            ids=data.get("ids"),
            prefix=data.get("prefix"),
            filter_sql=filter_sql,
        )
        return ok({"deleted": deleted})


@extend_schema(
    summary="Page through vectors in insertion order",
    request=s.RangeSerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR},
)
class RangeView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        serializer = validated(s.RangeSerializer, request.data)
        data, include = serializer.validated_data, serializer.include()
        next_cursor, records = vector_service.vectors_range(
            index=self.index,
            namespace=self.namespace(),
            cursor=data.get("cursor") or 0,
            limit=data["limit"],
            prefix=data.get("prefix") or "",
            include=include,
        )
        return ok({"nextCursor": next_cursor, "vectors": [wire(record, include) for record in records]})


@extend_schema(
    summary="Update one vector's vector, data or metadata",
    request=s.UpdateSerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 422: ENVELOPE_ERROR},
)
class UpdateView(IndexView):
    writes = True

    def post(self, request: Request, namespace: str = "") -> Response:
        data = validated(s.UpdateSerializer, request.data).validated_data
        vector, sparse = data.get("vector"), data.get("sparseVector")
        if data.get("data") is not None and (self.index.embedding_model or self.index.sparse_embedding_model):
            # On a model index, new data re-embeds the vector(s) (spec §4.11).
            from search.services import embedding as embedding_service

            vector, sparse = embedding_service.embed_for_update(index=self.index, text=data["data"])
        updated = vector_service.vector_update(
            index=self.index,
            namespace=self.namespace(),
            id=data["id"],
            vector=vector,
            sparse=sparse,
            data=data.get("data"),
            metadata=data.get("metadata"),
            patch_metadata=data.get("metadataUpdateMode") == "PATCH",
        )
        return ok({"updated": 1 if updated else 0})


@extend_schema(
    summary="Remove every vector of a namespace, or of all with ?all",
    request=None,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR},
)
class ResetView(IndexView):
    writes = True

    def post(self, request: Request, namespace: str = "") -> Response:
        reset_all = "all" in request.query_params
        if reset_all and namespace:
            raise InvalidInput("?all resets every namespace; do not name one", field="namespace")
        namespace_service.namespace_reset(index=self.index, name=None if reset_all else self.namespace())
        return ok("Success")


@extend_schema(summary="Index statistics", request=None, responses={200: OpenApiTypes.OBJECT})
class InfoView(IndexView):
    def post(self, request: Request) -> Response:
        return ok(info_service.index_info(index=self.index))


@extend_schema(summary="List namespaces", request=None, responses={200: OpenApiTypes.OBJECT})
class ListNamespacesView(IndexView):
    def post(self, request: Request) -> Response:
        return ok(namespace_service.namespaces_list(index=self.index))


@extend_schema(
    summary="Delete a namespace and its vectors",
    request=None,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 404: ENVELOPE_ERROR},
)
class DeleteNamespaceView(IndexView):
    writes = True

    def post(self, request: Request, namespace: str = "") -> Response:
        namespace_service.namespace_delete(index=self.index, name=self.namespace())
        return ok("Success")
