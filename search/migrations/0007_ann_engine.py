"""The resumable engine that starts from the HNSW index: buffers read by (distance, row)
and emptied as candidates are handed out, the ids each handle handed out, and the
per-index switch to exact resumable queries. Live handles carry on in the exact phase
with what their buffers held."""

import json

import django.db.models.deletion
from django.db import migrations, models


def carry_over(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT uuid, progress FROM search_resumablequery")
        for handle, progress in cursor.fetchall():
            old = progress if isinstance(progress, dict) else json.loads(progress)
            new = {"last_score": None}
            for side, component in (("dense", "d"), ("sparse", "s")):
                state = old.get(side) or {}
                cursor.execute(
                    "INSERT INTO search_bufferedcandidate (query_id, component, vector_id, distance) "
                    "SELECT query_id, component, vector_id, distance FROM search_resumablecandidate "
                    "WHERE query_id = %s AND component = %s AND position > %s AND NOT returned "
                    "ON CONFLICT DO NOTHING",
                    [handle, component, state.get("consumed", 0)],
                )
                buffered = cursor.rowcount
                cursor.execute(
                    "INSERT INTO search_handedout (query_id, key, vector_id) "
                    "SELECT c.query_id, v.key, c.vector_id FROM search_resumablecandidate c "
                    "JOIN search_vector v ON v.id = c.vector_id "
                    "WHERE c.query_id = %s AND c.component = %s AND c.returned ON CONFLICT DO NOTHING",
                    [handle, component],
                )
                new[side] = {
                    "phase": "exact",
                    "horizon": state.get("last"),
                    "scanned": state.get("buffered", 0),
                    "buffered": buffered,
                    "exhausted": state.get("exhausted", False),
                    "reach": None,
                    "catch_up": None,
                    "refill_requested": None,
                }
            cursor.execute("UPDATE search_resumablequery SET progress = %s WHERE uuid = %s", [json.dumps(new), handle])


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0006_explicit_progress"),
    ]

    operations = [
        migrations.AddField(
            model_name="index",
            name="exact_resumable",
            field=models.BooleanField(
                default=False,
                help_text="Resumable queries scan exactly at any namespace size, never through the HNSW index.",
            ),
        ),
        migrations.CreateModel(
            name="BufferedCandidate",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "query_id",
                        "component",
                        "vector_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("component", models.CharField(choices=[("d", "dense"), ("s", "sparse")], default="d", max_length=1)),
                ("vector_id", models.BigIntegerField()),
                ("distance", models.FloatField()),
                (
                    "query",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="candidates",
                        to="search.resumablequery",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="HandedOut",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "query_id", "key", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("key", models.CharField(max_length=512)),
                ("vector_id", models.BigIntegerField()),
                (
                    "query",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="handed_out",
                        to="search.resumablequery",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "handed out",
            },
        ),
        migrations.AddIndex(
            model_name="bufferedcandidate",
            index=models.Index(fields=["query", "component", "distance", "vector_id"], name="rq_buffer_order"),
        ),
        migrations.AddIndex(
            model_name="handedout",
            index=models.Index(fields=["query", "vector_id"], name="rq_handed_out_vector"),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.DeleteModel(
            name="ResumableCandidate",
        ),
    ]
