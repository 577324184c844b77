"""Precaching: registering querysets with fast_count_register().

A model lists the querysets worth keeping counted in a classmethod::

    class Book(models.Model):
        ...
        @classmethod
        def fast_count_querysets(cls):
            return [
                cls.objects.all(),
                (cls.objects.filter(published=True), timedelta(minutes=1)),
            ]

Each entry is a queryset or a (queryset, refresh_every) pair; without an
interval, the ``precache_count_every`` of the queryset's manager applies, and
without that the database's fast_count.refresh_every. ``register()`` sends exactly the
statement ``count()`` sends (statement.count_statement), so the background
worker keeps the very cache entry that ``count()`` reads.
"""

import datetime
from typing import Iterable, List, NamedTuple, Optional

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, connections, router

from .execution import protected, run
from .statement import prepare_queryset

DECLARATION = "fast_count_querysets"


class Declared(NamedTuple):
    queryset: object
    refresh_every: Optional[datetime.timedelta]


def _run(queryset, using, function, arguments_sql, arguments):
    connection = connections[using or queryset.db]
    with protected(connection):
        _, prepared = prepare_queryset(queryset, connection.alias)
    return run(connection, prepared, function, arguments_sql, arguments)[0]


def register(queryset, refresh_every: Optional[datetime.timedelta] = None,
             using: Optional[str] = None, mode: str = "periodic"):
    """Has the background worker of the database re-count ``queryset`` every
    ``refresh_every`` (default: the ``precache_count_every`` of the queryset's
    manager or ``.fast()``, else the database's fast_count.refresh_every);
    returns the cache key (a UUID). Raises EmptyResultSet for a queryset that
    matches nothing (there is nothing to count), and ExtensionMissing.
    ``mode="exact"`` keeps the count exact by triggers instead (see the
    extension's exact mode: one table, an immutable WHERE clause)."""
    if refresh_every is None:
        options = getattr(queryset, "_fast_count_options", None)
        refresh_every = options.refresh_every if options is not None else None
    if mode == "periodic":  # the form a database still at extension version 0.1.0 has too
        return _run(queryset, using, "fast_count_register", "%s, %s::interval, %s::text[]",
                    lambda statement: [statement.sql, refresh_every, list(statement.params)])
    return _run(queryset, using, "fast_count_register", "%s, %s::interval, %s::text[], %s",
                lambda statement: [statement.sql, refresh_every, list(statement.params), mode])


def unregister(queryset, using: Optional[str] = None) -> bool:
    """Stops refreshing ``queryset``; False if it was not registered."""
    return _run(queryset, using, "fast_count_unregister", "%s, %s::text[]",
                lambda statement: [statement.sql, list(statement.params)])


def refresh(queryset, using: Optional[str] = None) -> int:
    """Counts ``queryset`` now, stores the count and returns it."""
    return _run(queryset, using, "fast_count_refresh", "%s, %s::text[]",
                lambda statement: [statement.sql, list(statement.params)])


def declared(model) -> List[Declared]:
    """The querysets ``model.fast_count_querysets()`` lists (none if the model
    does not have the classmethod)."""
    declare = getattr(model, DECLARATION, None)
    if declare is None:
        return []
    where = "%s.%s()" % (model.__name__, DECLARATION)
    return [as_declared(item, where) for item in declare()]


def as_declared(item, where: str) -> Declared:
    """A queryset or a (queryset, refresh_every) pair as a Declared."""
    if isinstance(item, (tuple, list)):
        queryset, refresh_every = item
    else:
        queryset, refresh_every = item, None
    if not hasattr(queryset, "query"):
        raise TypeError("%s must list querysets or (queryset, interval) pairs, not %r"
                        % (where, item))
    return Declared(queryset, refresh_every)


def declaring_models(using: str = DEFAULT_DB_ALIAS, app_labels: Iterable[str] = ()) -> list:
    """Models with fast_count_querysets() whose tables live in ``using``."""
    wanted = set(app_labels)
    return [model for model in global_apps.get_models()
            if hasattr(model, DECLARATION)
            and (not wanted or model._meta.app_label in wanted)
            and router.allow_migrate_model(using, model)]
