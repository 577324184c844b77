"""Counting a queryset with fast_count(), or with Django's plain count()
when fast_count() cannot be used.

The fallback keeps every count right: a database without the extension
(or not PostgreSQL at all), or a query fast_count() refuses, is counted the
way Django counts it, and a FastCountFallbackWarning says so once per
process, database alias and reason. fast_count() runs in a savepoint when
the caller is inside a transaction, so a failure never aborts the caller's
transaction.
"""

import logging
import threading
import warnings

from django.core.exceptions import EmptyResultSet
from django.db import DataError, NotSupportedError, ProgrammingError, connections
from django.db.models import QuerySet

from . import extension
from .execution import pgcode, protected, run
from .placeholders import PlaceholderError
from .statement import count_sql, prepare

logger = logging.getLogger("fast_count_django")

# Errors that say fast_count() cannot count this query here (no such
# function, a parameter it cannot type, ...), as opposed to a broken
# connection, a cancelled statement or an aborted transaction: only those
# are worth a plain count() instead.
_FALLBACK_ERRORS = (ProgrammingError, DataError, NotSupportedError)
_UNDEFINED_FUNCTION = "42883"


class FastCountFallbackWarning(RuntimeWarning):
    """A count was made by Django's plain count() instead of fast_count()."""


_warned_lock = threading.Lock()
_warned = set()  # (alias, reason)


def _warn_once(alias: str, reason: str, message: str) -> None:
    with _warned_lock:
        if (alias, reason) in _warned:
            return
        _warned.add((alias, reason))
    message = "fast_count: database %r: %s; counting with Django's count() instead" % (
        alias, message)
    logger.warning(message)
    warnings.warn(message, FastCountFallbackWarning, stacklevel=4)


def forget_extension_state(alias=None) -> None:
    """Look the extension up again on the next count, and warn again (for
    one database alias or all): after installing the extension, and in
    tests."""
    extension.forget(alias)
    with _warned_lock:
        _warned.difference_update({key for key in _warned if alias is None or key[0] == alias})


def plain_count(queryset) -> int:
    """Django's own count() of the queryset, whatever its class."""
    return QuerySet.count(queryset)


def _missing(alias: str) -> None:
    _warn_once(alias, "missing", "the fast_count extension is not installed")


def fast_count(queryset, *, strict: bool = False) -> int:
    """The number of rows of ``queryset`` (what ``count()`` returns), from
    fast_count() in its database.

    Falls back to Django's count() with a warning when that is not possible;
    ``strict=True`` raises instead (ExtensionMissing, the database error,
    NotImplementedError for another database vendor).
    """
    if queryset._result_cache is not None:
        return len(queryset._result_cache)
    alias = queryset.db
    connection = connections[alias]
    if connection.vendor != "postgresql":
        if strict:
            raise NotImplementedError("fast_count needs PostgreSQL, not %s" % connection.vendor)
        _warn_once(alias, "vendor", "it is %s, not PostgreSQL" % connection.vendor)
        return plain_count(queryset)
    try:
        sql, values = count_sql(queryset, connection)
    except EmptyResultSet:
        return 0  # none(), filter(pk__in=[]): Django's count() is 0 too
    if extension.schema(connection) is None:
        if strict:
            raise extension.ExtensionMissing(alias)
        _missing(alias)
        return plain_count(queryset)
    try:
        with protected(connection):
            prepared = prepare(connection, sql, values)
        return run(connection, prepared, "fast_count", "%s, %s::text[]",
                   lambda statement: [statement.sql, list(statement.params)])
    except PlaceholderError as error:
        if strict:
            raise
        _warn_once(alias, "placeholders", "cannot pass the query's parameters (%s)" % error)
    except _FALLBACK_ERRORS as error:
        if strict:
            raise
        if pgcode(error) == _UNDEFINED_FUNCTION:
            extension.forget(alias)  # dropped since we looked it up?
            if extension.schema(connection) is None:
                _missing(alias)
                return plain_count(queryset)
        _warn_once(alias, "error " + pgcode(error), "fast_count() failed: %s" % str(error).strip())
    return plain_count(queryset)
