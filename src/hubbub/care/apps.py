from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "hubbub.care"
    label = "care"
    verbose_name = "Care"
