"""Existing conversations get their contact: one per customer (workspace, platform, handle)."""

from django.db import migrations


def give_contacts(apps, schema_editor):  # type: ignore[no-untyped-def]
    Conversation = apps.get_model("care", "Conversation")
    Contact = apps.get_model("crm", "Contact")
    Identity = apps.get_model("crm", "Identity")
    customers = (
        Conversation.objects.filter(contact__isnull=True)
        .values_list("workspace_id", "platform", "customer_handle", "customer_name")
        .order_by("workspace_id", "platform", "customer_handle", "-id")
    )
    seen: dict[tuple[int, str, str], int] = {}
    for workspace_id, platform, handle, name in customers.iterator():
        key = (workspace_id, platform, handle.strip().lower() if platform == "email" else handle)
        if key in seen:
            continue
        contact = Contact.objects.create(workspace_id=workspace_id, name=name)
        Identity.objects.create(
            workspace_id=workspace_id, contact=contact, platform=platform, handle=key[2], name=name
        )
        seen[key] = contact.pk
        Conversation.objects.filter(
            workspace_id=workspace_id, platform=platform, customer_handle=handle
        ).update(contact=contact)


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0009_contacts_and_customer_messages"),
        ("crm", "0001_contacts"),
    ]

    operations = [migrations.RunPython(give_contacts, migrations.RunPython.noop)]
