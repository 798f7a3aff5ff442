"""Full-text search over mentions (text and author handle), per database vendor.

SQLite: an external-content FTS5 table over listening_mention, kept in step
by triggers, and rebuilt once here so existing rows are indexed.

PostgreSQL: a GIN index on the exact expression `hubbub.listening.search`
queries, so the planner can use it. The text search configuration is
'simple' (no stemming: mentions come in every language) with accents
folded by the unaccent dictionary; unaccent is a trusted extension, so the
database owner may create it without being a superuser.

Caution for later migrations: when Django alters listening_mention on
SQLite it may rebuild the table (create, copy, drop, rename), and dropping
the old table drops these triggers. Such a migration must run
SQLITE_TRIGGERS again; the listening tests fail if the index stops
following changes.
"""

from django.db import migrations

SQLITE_TABLE = """
CREATE VIRTUAL TABLE listening_mention_fts USING fts5(
    text, author_handle,
    content='listening_mention', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
)
"""

# An external-content index must be told the old values to forget them.
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER listening_mention_fts_insert AFTER INSERT ON listening_mention BEGIN
        INSERT INTO listening_mention_fts(rowid, text, author_handle)
        VALUES (new.id, new.text, new.author_handle);
    END
    """,
    """
    CREATE TRIGGER listening_mention_fts_delete AFTER DELETE ON listening_mention BEGIN
        INSERT INTO listening_mention_fts(listening_mention_fts, rowid, text, author_handle)
        VALUES ('delete', old.id, old.text, old.author_handle);
    END
    """,
    """
    CREATE TRIGGER listening_mention_fts_update
    AFTER UPDATE OF text, author_handle ON listening_mention BEGIN
        INSERT INTO listening_mention_fts(listening_mention_fts, rowid, text, author_handle)
        VALUES ('delete', old.id, old.text, old.author_handle);
        INSERT INTO listening_mention_fts(rowid, text, author_handle)
        VALUES (new.id, new.text, new.author_handle);
    END
    """,
]

SQLITE_REBUILD = "INSERT INTO listening_mention_fts(listening_mention_fts) VALUES ('rebuild')"

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS listening_mention_fts_update",
    "DROP TRIGGER IF EXISTS listening_mention_fts_delete",
    "DROP TRIGGER IF EXISTS listening_mention_fts_insert",
    "DROP TABLE IF EXISTS listening_mention_fts",
]

POSTGRES_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION hubbub_search (COPY = simple)",
    """
    ALTER TEXT SEARCH CONFIGURATION hubbub_search
    ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword,
                      hword_asciipart, hword_part, hword_numpart
    WITH unaccent, simple
    """,
    # Keep in step with hubbub.listening.search.DOCUMENT_SQL.
    """
    CREATE INDEX listening_mention_search ON listening_mention USING gin (
        (to_tsvector('hubbub_search', coalesce(text, '') || ' ' || coalesce(author_handle, '')))
    )
    """,
]

# The unaccent extension stays: other things may have come to use it.
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS listening_mention_search",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS hubbub_search",
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement)


def create_search(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, [SQLITE_TABLE, *SQLITE_TRIGGERS, SQLITE_REBUILD])
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_CREATE)


def drop_search(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_DROP)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("listening", "0003_stream_state_and_routing"),
    ]

    operations = [
        migrations.RunPython(create_search, drop_search, elidable=False),
    ]
