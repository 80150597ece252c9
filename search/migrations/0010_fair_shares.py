# Fair shares (search/services/shares.py): who started each resumable query, and the
# shared cache table the search page's rate limit counts in (settings.CACHES["shared"]).

from django.core.management import call_command
from django.db import migrations, models


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):

    dependencies = [
        ('search', '0009_import_jobs'),
    ]

    operations = [
        migrations.AddField(
            model_name='resumablequery',
            name='holder',
            field=models.CharField(default='token:rw', help_text="Who started it: the index's read-write token (token:rw), its read-only token (token:ro), or a search page visitor (page: and a digest of their address).", max_length=32),
        ),
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]
