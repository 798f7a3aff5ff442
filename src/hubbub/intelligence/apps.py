from django.apps import AppConfig


class IntelligenceConfig(AppConfig):
    name = "hubbub.intelligence"
    label = "intelligence"
    verbose_name = "Triage intelligence"
