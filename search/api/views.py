"""The Upstash Vector REST endpoints: validate, call a service, wrap the result. The
resumable-query endpoints are in resumable_views.py, on the same base view."""

from __future__ import annotations

from typing import Any, TypeVar

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
from search.api.auth import HasIndexToken, IndexAccess, IndexTokenAuthentication
from search.errors import InvalidInput
from search.models import Index
from search.services import info as info_service
from search.services import namespaces as namespace_service
from search.services import query as query_service
from search.services import vectors as vector_service
from search.services.budget import answer_size_check, query_budget_check
from search.services.random_records import vectors_random
from search.services.records import Include, StoredRecord
from search.services.specs import QuerySpec

NAMESPACE_PARAMETER = OpenApiParameter(
    "namespace",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The namespace; leave the segment out for the default namespace.",
)
SerializerT = TypeVar("SerializerT", bound=serializers.Serializer[Any])
ENVELOPE_ERROR = inline_serializer("Error", {"error": serializers.CharField(), "status": serializers.IntegerField()})


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


def validated(serializer_class: type[SerializerT], data: Any) -> SerializerT:
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
    serializer_class: type[serializers.Serializer[Any]], items: list[Any], batch: bool
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
    # The SDKs POST every command; the REST reference also documents GET, PUT and DELETE
    # with the same JSON body (the PHP SDK sends GET /fetch, DELETE /delete), so those run
    # the POST handler too. HEAD and PATCH stay refused (405): a probe must never run e.g.
    # reset, and leaving "head" out keeps Django from answering HEAD with get().
    http_method_names = ["get", "post", "put", "delete", "options"]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotImplementedError  # each command's view answers POST

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.post(request, *args, **kwargs)

    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.post(request, *args, **kwargs)

    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.post(request, *args, **kwargs)

    @property
    def access(self) -> IndexAccess:
        access = self.request.auth
        assert isinstance(access, IndexAccess)  # HasIndexToken let the request through
        return access

    @property
    def index(self) -> Index:
        return self.access.index

    def namespace(self) -> str:
        return namespace_service.validate_namespace_name(self.kwargs.get("namespace") or "")

    def query_specs(self, serializer_class: type[serializers.Serializer[Any]]) -> tuple[list[QuerySpec], bool]:
        """The body's queries (one object, or an array of them) as specs; the flag says
        it was an array."""
        items, batch = as_items(self.request.data)
        namespace = self.namespace()
        return [
            s.query_spec(data, namespace=namespace) for data in validated_many(serializer_class, items, batch)
        ], batch


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
        items, batch = as_items(request.data)
        records = [s.record_from(item) for item in validated_many(s.UpsertDataItemSerializer, items, batch)]
        vector_service.vectors_upsert_data(index=self.index, namespace=self.namespace(), records=records)
        return ok("Success")


def batch_result(results: list[list[StoredRecord]], specs: list[QuerySpec]) -> list[Any]:
    """The records of each query; a one-element batch answers with a flat list, like a
    single query (docs/api.md#query)."""
    wired = [[wire(record, spec.include) for record in records] for records, spec in zip(results, specs, strict=True)]
    return wired[0] if len(wired) == 1 else wired


def run_queries(view: IndexView, serializer_class: type[serializers.Serializer[Any]]) -> Response:
    specs, batch = view.query_specs(serializer_class)
    query_budget_check(index=view.index, specs=specs)
    if batch:
        results = query_service.query_batch(index=view.index, specs=specs)
    else:
        results = [query_service.query(index=view.index, spec=specs[0])]
    answer_size_check(record for records in results for record in records)
    return ok(batch_result(results, specs))


@extend_schema(
    summary="Query nearest neighbours (one query or a batch)",
    request=s.QuerySerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 422: ENVELOPE_ERROR},
)
class QueryView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        return run_queries(self, s.QuerySerializer)


@extend_schema(
    summary="Query with raw text, embedded by the index's model",
    request=s.QueryDataSerializer,
    responses={200: OpenApiTypes.OBJECT, 422: ENVELOPE_ERROR},
)
class QueryDataView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        return run_queries(self, s.QueryDataSerializer)


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
        answer_size_check(records)
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
        if isinstance(body, list) or (isinstance(body, (str, int)) and not isinstance(body, bool)):
            body = {"ids": body if isinstance(body, list) else [body]}  # the JS SDK's bare ids
        data = validated(s.DeleteSerializer, body).validated_data
        deleted = vector_service.vectors_delete(
            index=self.index,
            namespace=self.namespace(),
            ids=data.get("ids"),
            prefix=data.get("prefix"),
            filter=data.get("filter"),
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
        answer_size_check(records)
        return ok({"nextCursor": next_cursor, "vectors": [wire(record, include) for record in records]})


@extend_schema(
    summary="Update one vector's vector, data or metadata",
    request=s.UpdateSerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 422: ENVELOPE_ERROR},
)
class UpdateView(IndexView):
    writes = True

    def post(self, request: Request, namespace: str = "") -> Response:
        update = validated(s.UpdateSerializer, request.data).update_value()
        updated = vector_service.vector_update(index=self.index, namespace=self.namespace(), update=update)
        return ok({"updated": 1 if updated else 0})


def reset_everything(request: Request) -> bool:
    """Whether `reset` is asked for every namespace: `?all`, `?all=true` (the PHP SDK) or
    `?all=1`; `?all=false` and `?all=0` name one namespace as no `?all` does."""
    if "all" not in request.query_params:
        return False
    value = str(request.query_params["all"]).lower()
    if value in {"", "true", "1"}:
        return True
    if value in {"false", "0"}:
        return False
    raise InvalidInput("must be true or false", field="all")


@extend_schema(
    summary="Remove every vector of a namespace, or of all with ?all",
    request=None,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR},
)
class ResetView(IndexView):
    writes = True

    def post(self, request: Request, namespace: str = "") -> Response:
        reset_all = reset_everything(request)
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


@extend_schema(
    summary="Rename a namespace",
    description=(
        "The default namespace cannot be renamed. A namespace of the new name is refused (409) unless "
        "`deleteExisting`, which deletes it first. Live resumable handles follow the renamed namespace."
    ),
    request=s.RenameNamespaceSerializer,
    responses={200: OpenApiTypes.OBJECT, 400: ENVELOPE_ERROR, 404: ENVELOPE_ERROR, 409: ENVELOPE_ERROR},
)
class RenameNamespaceView(IndexView):
    writes = True

    def post(self, request: Request) -> Response:
        data = validated(s.RenameNamespaceSerializer, request.data).validated_data
        renamed = namespace_service.namespace_rename(
            index=self.index,
            name=data["namespace"],
            new_name=data["newNamespace"],
            delete_existing=bool(data.get("deleteExisting")),
        )
        return ok({"renamed": renamed})


@extend_schema(
    summary="One record drawn at random",
    description="A record's id and vector part(s), drawn uniformly; `null` when the namespace is empty.",
    request=None,
    responses={200: OpenApiTypes.OBJECT},
)
class RandomView(IndexView):
    def post(self, request: Request, namespace: str = "") -> Response:
        record = vectors_random(index=self.index, namespace=self.namespace())
        return ok(wire(record, Include(vectors=True)) if record is not None else None)
