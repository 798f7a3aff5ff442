from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "hubbub.web"
    label = "web"
    verbose_name = "Web shell"
