from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from hubbub.core import crypto
from hubbub.core.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt every stored credential under the newest HUBBUB_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
            for field in fields:
                table = connection.ops.quote_name(model._meta.db_table)
                column = connection.ops.quote_name(str(field.column))
                pk = connection.ops.quote_name(str(model._meta.pk.column))
                # Raw tokens are read and written without the field's own
                # conversion; identifiers are quoted by the backend, values
                # are always parameters.
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {pk}, {column} FROM {table} WHERE {column} <> ''"  # noqa: S608
                    )
                    for row_id, token in cursor.fetchall():
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                            [crypto.rotate(token), row_id],
                        )
                        rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} stored secret(s) under the newest key.")
