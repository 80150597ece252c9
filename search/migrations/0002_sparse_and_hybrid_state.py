import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.db.models.deletion
from django.db import migrations, models


def end_active_queries(apps, schema_editor):
    # The candidate buffer changes shape; handles are transient, so end them.
    apps.get_model("search", "ResumableQuery").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="vector",
            name="sparse_indices",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.IntegerField(), blank=True, null=True, size=None
            ),
        ),
        migrations.AddIndex(
            model_name="vector",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["sparse_indices"], name="vector_sparse_indices_gin"
            ),
        ),
        migrations.RunPython(end_active_queries, migrations.RunPython.noop),
        migrations.DeleteModel(name="ResumableCandidate"),
        migrations.CreateModel(
            name="ResumableCandidate",
            fields=[
                ("pk", models.CompositePrimaryKey("query_id", "component", "position", blank=True, editable=False, primary_key=True, serialize=False)),
                ("component", models.CharField(choices=[("d", "Dense"), ("s", "Sparse")], default="d", max_length=1)),
                ("position", models.PositiveIntegerField()),
                ("returned", models.BooleanField(default=False)),
                ("vector_id", models.BigIntegerField()),
                ("distance", models.FloatField()),
                (
                    "query",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="candidates",
                        to="search.resumablequery",
                    ),
                ),
            ],
        ),
        migrations.AddField(model_name="resumablequery", name="sparse_consumed", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="resumablequery", name="sparse_buffered", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="resumablequery", name="sparse_last_distance", field=models.FloatField(blank=True, null=True)),
        migrations.AddField(model_name="resumablequery", name="sparse_last_vector_id", field=models.BigIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="resumablequery", name="sparse_exhausted", field=models.BooleanField(default=False)),
    ]
