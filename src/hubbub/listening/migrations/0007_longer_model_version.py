"""Room for every model that labels a mention in `model_version` (sentiment, intent,
language, lexicon).

On SQLite the AlterField rebuilds listening_mention, which drops the full-text
search triggers of 0004: they are created again here (see 0004's caution).
"""

import importlib

from django.db import migrations, models

search = importlib.import_module("hubbub.listening.migrations.0004_mention_search")


def recreate_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        drop_triggers = [sql for sql in search.SQLITE_DROP if "TRIGGER" in sql]
        # The rebuild keeps row ids, so the index still fits; rebuilt anyway, to be sure.
        search._run(schema_editor, [*drop_triggers, *search.SQLITE_TRIGGERS, search.SQLITE_REBUILD])


class Migration(migrations.Migration):
    dependencies = [
        ("listening", "0006_mention_author_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="mention",
            name="model_version",
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.RunPython(recreate_sqlite_triggers, recreate_sqlite_triggers, elidable=False),
    ]
