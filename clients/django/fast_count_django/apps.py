from django.apps import AppConfig


class FastCountConfig(AppConfig):
    # Only needed for the fast_count_register management command.
    name = "fast_count_django"
    verbose_name = "fast_count"
