from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "hubbub.accounts"
    label = "accounts"
    verbose_name = "People and teams"
