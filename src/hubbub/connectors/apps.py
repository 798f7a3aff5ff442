from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "hubbub.connectors"
    label = "connectors"
    verbose_name = "Connectors"
