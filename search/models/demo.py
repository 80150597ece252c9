"""How far the demo corpus's load has got: `make run` serves at once and a Celery task
loads the corpus beside it, chunk by chunk, so a restart carries on where it stopped."""

from __future__ import annotations

from django.db import models

from search.models.indexes import Index


class DemoLoad(models.Model):
    """The load of the demo corpus into its index. The corpus is a fixed, ordered list,
    so `loaded` (how many of its first entries are in the index) is the whole of the
    load's position."""

    index = models.OneToOneField(Index, on_delete=models.CASCADE, related_name="demo_load")
    total = models.PositiveIntegerField(default=0, help_text="Entries in the corpus (0 until first counted).")
    loaded = models.PositiveIntegerField(default=0, help_text="Entries loaded so far: the corpus's first ones.")
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="", help_text="Why the last chunk failed, if it did.")

    class Meta:
        verbose_name = "demo corpus load"

    def __str__(self) -> str:
        return f"{self.index.name}: {self.loaded} of {self.total or '?'}"

    @property
    def done(self) -> bool:
        return self.finished_at is not None
