"""Records numbered per namespace (1, 2, ... in insertion order) for range cursors, and
each namespace's counter. Existing records are numbered in their row order."""

from django.db import migrations, models

NUMBER_EXISTING = """
UPDATE search_vector v SET number = numbered.n
FROM (SELECT id, row_number() OVER (PARTITION BY namespace_id ORDER BY id) AS n FROM search_vector) numbered
WHERE v.id = numbered.id
"""
COUNT_EXISTING = """
UPDATE search_namespace ns SET last_number = coalesce(
    (SELECT max(v.number) FROM search_vector v WHERE v.namespace_id = ns.id), 0)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0007_ann_engine"),
    ]

    operations = [
        migrations.AddField(
            model_name="namespace",
            name="last_number",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="vector",
            name="number",
            field=models.BigIntegerField(null=True),
        ),
        migrations.RunSQL(NUMBER_EXISTING, migrations.RunSQL.noop),
        migrations.RunSQL(COUNT_EXISTING, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="vector",
            name="number",
            field=models.BigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="vector",
            constraint=models.UniqueConstraint(fields=("namespace", "number"), name="vector_unique_number"),
        ),
    ]
