"""Bulk loads by `import_vectors`: how far each has got, so that an interrupted one resumes."""

from __future__ import annotations

from django.db import models

from search.models.indexes import Index


class ImportJobQuerySet(models.QuerySet["ImportJob"]):
    def unfinished(self) -> ImportJobQuerySet:
        return self.filter(state__in=[ImportJob.State.RUNNING, ImportJob.State.FAILED])


class ImportJob(models.Model):
    """One load of one file into one namespace. `records_done` and `position` move in the
    same transaction as each batch's rows, so after a crash they say exactly what is
    written; `hnsw_definition` holds the index's HNSW index while it is dropped, so that
    whoever finishes the load (this job resumed, or a later one) builds the same again."""

    class State(models.TextChoices):
        RUNNING = "running"  # also a load whose process died: resumable
        FAILED = "failed"  # stopped at a bad record: resumable once the file is fixed (--restart)
        DONE = "done"
        ABANDONED = "abandoned"

    index = models.ForeignKey(Index, on_delete=models.CASCADE, related_name="import_jobs")
    namespace = models.CharField(max_length=255, blank=True)
    source = models.TextField(help_text="The file's absolute path (a .npy file: its vectors).")
    fingerprint = models.CharField(max_length=128, help_text="Size, modification time and a digest of its start.")
    total_lines = models.BigIntegerField(help_text="Lines (JSON Lines) or rows (.npy) in the file.")
    records_done = models.BigIntegerField(default=0)
    lines_done = models.BigIntegerField(default=0)
    # Where the next batch starts: a byte offset in a JSON Lines file, a row in a .npy file.
    position = models.BigIntegerField(default=0)
    hnsw_definition = models.TextField(blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.source} -> {self.index.name}/{self.namespace} ({self.state})"
