"""Resumable handles: progress as one typed JSON value per handle (both sides), the
filter kept compiled, and the unused query_mode column gone. Live handles keep going:
their progress and compiled filter are carried over."""

import search.progress
from django.db import migrations, models


def carry_over(apps, schema_editor):
    from search.filtering import CompiledFilter

    ResumableQuery = apps.get_model("search", "ResumableQuery")
    for query in ResumableQuery.objects.all().iterator():
        # The unprefixed columns were the dense side, or the only side of a sparse query.
        unprefixed_is_sparse = query.query_vector is None
        first = _side(query, "")
        second = _side(query, "sparse_")
        query.progress = {
            "dense": _empty() if unprefixed_is_sparse else first,
            "sparse": first if unprefixed_is_sparse else second,
        }
        if query.filter:
            compiled = CompiledFilter.compile(query.filter)
            query.filter_sql, query.filter_params = compiled.sql, list(compiled.params)
        query.save(update_fields=["progress", "filter_sql", "filter_params"])


def _side(query, prefix):
    last_pk = getattr(query, f"{prefix}last_vector_id")
    last_distance = getattr(query, f"{prefix}last_distance")
    return {
        "consumed": getattr(query, f"{prefix}consumed"),
        "buffered": getattr(query, f"{prefix}buffered"),
        "last": {"pk": last_pk, "distance": last_distance}
        if last_pk is not None and last_distance is not None
        else None,
        "exhausted": getattr(query, f"{prefix}exhausted"),
    }


def _empty():
    return {"consumed": 0, "buffered": 0, "last": None, "exhausted": False}


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0005_candidate_query_without_own_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="resumablequery",
            name="filter_params",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="resumablequery",
            name="filter_sql",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="resumablequery",
            name="progress",
            field=search.progress.ProgressField(help_text="How far each side's candidate buffer has got."),
        ),
        migrations.AlterField(
            model_name="resumablecandidate",
            name="component",
            field=models.CharField(choices=[("d", "dense"), ("s", "sparse")], default="d", max_length=1),
        ),
        migrations.AlterField(
            model_name="resumablequery",
            name="fusion_algorithm",
            field=models.CharField(blank=True, choices=[("RRF", "RRF"), ("DBSF", "DBSF")], default="", max_length=8),
        ),
        migrations.AlterField(
            model_name="resumablequery",
            name="returned_count",
            field=models.PositiveIntegerField(default=0, help_text="Results handed out so far."),
        ),
        migrations.AlterField(
            model_name="resumablequery",
            name="weighting_strategy",
            field=models.CharField(blank=True, choices=[("IDF", "IDF")], default="", max_length=8),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="resumablequery",
            name="buffered",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="consumed",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="exhausted",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="last_distance",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="last_vector_id",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="query_mode",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="sparse_buffered",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="sparse_consumed",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="sparse_exhausted",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="sparse_last_distance",
        ),
        migrations.RemoveField(
            model_name="resumablequery",
            name="sparse_last_vector_id",
        ),
    ]
