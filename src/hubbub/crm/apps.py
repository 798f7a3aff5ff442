from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "hubbub.crm"
    label = "crm"
    verbose_name = "Contacts"
