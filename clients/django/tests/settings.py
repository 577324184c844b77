"""Settings of the integration tests: a PostgreSQL cluster that run_tests.sh
creates (socket directory, port and user come from the environment)."""

import os


def _database(name, **more):
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": os.environ.get("FAST_COUNT_TEST_USER", "postgres"),
        "HOST": os.environ.get("FAST_COUNT_TEST_HOST", "/var/run/postgresql"),
        "PORT": os.environ.get("FAST_COUNT_TEST_PORT", "5432"),
        **more,
    }


DATABASES = {
    # Has the extension (created by the library app's first migration).
    "default": _database("fast_count_django"),
    # Has the same tables but not the extension (see routers.py).
    "noext": _database("fast_count_django_noext"),
    # The same database through connections that also take registered
    # (periodic) counts in transparent mode: the setting is in the connection's
    # options, as a project would set it. The router sends the reads of
    # library.LaggingBook here (test_transparent_registered.py).
    "registered": _database("fast_count_django", OPTIONS={"options": "-c fast_count.transparent=registered"},
                            TEST={"MIRROR": "default"}),
}
DATABASE_ROUTERS = ["tests.routers.NoExtensionThere", "tests.routers.LaggingBooksThere"]

INSTALLED_APPS = [
    "django.contrib.admin",  # its change list, in test_transparent_admin.py
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.postgres",
    "rest_framework",
    "fast_count_django",
    "tests.library",
]
ROOT_URLCONF = "tests.library.urls"
# What the admin needs, as startproject writes it.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: fast logins
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
