"""Namespaces: looked up without creating them, created only by upserts."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from search.errors import InvalidInput, NotFound
from search.models import Index, Namespace


def validate_namespace_name(name: str) -> str:
    if len(name) > settings.VECSITE_MAX_NAMESPACE_LENGTH:
        raise InvalidInput(f"at most {settings.VECSITE_MAX_NAMESPACE_LENGTH} characters", field="namespace")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidInput("control characters are not allowed", field="namespace")
    return name


def namespace_find(*, index: Index, name: str) -> Namespace | None:
    """The namespace, or None. Reads never create namespaces."""
    return Namespace.objects.filter(index=index, name=name).first()


def namespace_lock(*, index: Index, name: str, create: bool) -> Namespace | None:
    """Lock the namespace row for a write (serialising its vector counter)."""
    namespace = Namespace.objects.select_for_update().filter(index=index, name=name).first()
    if namespace is None and create:
        Namespace.objects.get_or_create(index=index, name=name)
        namespace = Namespace.objects.select_for_update().get(index=index, name=name)
    return namespace


def namespaces_list(*, index: Index) -> list[str]:
    return list(Namespace.objects.filter(index=index).order_by("name").values_list("name", flat=True))


@transaction.atomic
def namespace_delete(*, index: Index, name: str) -> None:
    if name == "":
        raise InvalidInput("the default namespace cannot be deleted", field="namespace")
    namespace = namespace_lock(index=index, name=name, create=False)
    if namespace is None:
        raise NotFound(f"Namespace {name} for the index {index.name} does not exist")
    namespace.delete()


@transaction.atomic
def namespace_reset(*, index: Index, name: str | None) -> None:
    """Remove every vector of one namespace, or of all (name None); namespaces remain."""
    namespaces = Namespace.objects.select_for_update().filter(index=index)
    if name is not None:
        namespaces = namespaces.filter(name=name)
    for namespace in namespaces:
        namespace.vectors.all().delete()
        namespace.vector_count = 0
        namespace.save(update_fields=["vector_count"])
