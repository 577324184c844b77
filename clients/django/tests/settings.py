"""Settings of the integration tests: a PostgreSQL cluster that run_tests.sh
creates (socket directory, port and user come from the environment)."""

import os


def _database(name):
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": os.environ.get("FAST_COUNT_TEST_USER", "postgres"),
        "HOST": os.environ.get("FAST_COUNT_TEST_HOST", "/var/run/postgresql"),
        "PORT": os.environ.get("FAST_COUNT_TEST_PORT", "5432"),
    }


DATABASES = {
    # Has the extension (created by the library app's first migration).
    "default": _database("fast_count_django"),
    # Has the same tables but not the extension (see routers.py).
    "noext": _database("fast_count_django_noext"),
}
DATABASE_ROUTERS = ["tests.routers.NoExtensionThere"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.postgres",
    "rest_framework",
    "fast_count_django",
    "tests.library",
]
ROOT_URLCONF = "tests.library.urls"
REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "fast_count_django.pagination.FastCountPageNumberPagination",
    "PAGE_SIZE": 10,
    "UNAUTHENTICATED_USER": None,
}
SECRET_KEY = "tests only"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "America/New_York"  # not UTC, so __date and friends convert
TEST_RUNNER = "tests.runner.SummaryRunner"
LOGGING = {  # the fallback warnings are asserted by the tests, not printed
    "version": 1,
    "loggers": {"fast_count_django": {"level": "CRITICAL"}},
}
