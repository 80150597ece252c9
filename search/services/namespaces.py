"""Namespaces: looked up without creating them, created only by upserts."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from search.errors import Conflict, InvalidInput, NotFound
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
    namespace.resumable_queries.all().delete_locked()
    namespace.delete()


@transaction.atomic
def namespace_reset(*, index: Index, name: str | None) -> None:
    """Remove every vector of one namespace, or of all (name None); namespaces remain."""
    namespaces = Namespace.objects.select_for_update().filter(index=index)
    if name is not None:
        namespaces = namespaces.filter(name=name)
    for namespace in namespaces:
        namespace.vectors.all().delete()
        # An emptied namespace numbers its records from 1 again, as a fresh one does.
        namespace.vector_count = 0
        namespace.last_number = 0
        namespace.save(update_fields=["vector_count", "last_number"])


@transaction.atomic
def namespace_rename(*, index: Index, name: str, new_name: str, delete_existing: bool = False) -> bool:
    """Give a namespace a new name (docs/api.md#rename-namespace); False when the names are
    the same. Its records, their numbers and its live resumable handles stay with it:
    handles point at the namespace row, not at its name. An existing namespace of the new
    name is refused, or with `delete_existing` deleted first, its records and handles with it."""
    validate_namespace_name(name)
    validate_namespace_name(new_name)
    if name == "":
        raise InvalidInput("the default namespace cannot be renamed", field="namespace")
    if new_name == "":
        raise InvalidInput("the default namespace cannot be replaced", field="newNamespace")
    # Both rows locked, in a fixed order, so that two renames cannot deadlock.
    rows = {
        ns.name: ns
        for ns in Namespace.objects.select_for_update().filter(index=index, name__in=[name, new_name]).order_by("pk")
    }
    source = rows.get(name)
    if source is None:
        raise NotFound(f"Namespace {name} for the index {index.name} does not exist")
    if new_name == name:
        return False
    target = rows.get(new_name)
    if target is not None:
        if not delete_existing:
            raise Conflict(
                f"namespace {new_name} already exists; pass deleteExisting to replace it", field="newNamespace"
            )
        target.resumable_queries.all().delete_locked()
        target.delete()
    source.name = new_name
    try:
        with transaction.atomic():
            source.save(update_fields=["name"])
    except IntegrityError:  # an upsert created the new name meanwhile
        raise Conflict(
            f"namespace {new_name} already exists; pass deleteExisting to replace it", field="newNamespace"
        ) from None
    return True
