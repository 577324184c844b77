"""Counting a queryset with fast_count(), or with Django's plain count()
when fast_count() cannot be used.

The fallback keeps every count right: a database without the extension
(or not PostgreSQL at all), or a query fast_count() refuses, is counted the
way Django counts it. Every fallback is counted per process (fallbacks())
and logged on the ``fast_count_django`` logger at the level of the
FAST_COUNT_FALLBACK_LOG_LEVEL setting (default WARNING), and the first one of
each database alias and reason is also a FastCountFallbackWarning.
fast_count() runs in a savepoint when the caller is inside a transaction, so
a failure never aborts the caller's transaction.
"""

import collections
import datetime
import logging
import threading
import warnings
from typing import Dict, NamedTuple, Optional, Tuple

from django.conf import settings as django_settings
from django.core.exceptions import EmptyResultSet
from django.db import DataError, NotSupportedError, ProgrammingError, connections
from django.db.models import QuerySet
from django.utils import timezone

from . import extension
from .execution import pgcode, protected, run
from .options import DEFAULT, CountOptions
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


_lock = threading.Lock()
_warned = set()                          # (alias, reason)
_fallbacks = collections.Counter()       # (alias, reason) -> fallbacks since start or reset


def _log_level() -> int:
    level = getattr(django_settings, "FAST_COUNT_FALLBACK_LOG_LEVEL", logging.WARNING)
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
    return level if isinstance(level, int) else logging.WARNING


def _fallback(queryset, alias: str, reason: str, message: str) -> None:
    with _lock:
        _fallbacks[(alias, reason)] += 1
        first = (alias, reason) not in _warned
        _warned.add((alias, reason))
    message = "fast_count: database %r: %s; counting with Django's count() instead" % (
        alias, message)
    logger.log(_log_level(), "%s (%s)", message, queryset.model._meta.label,
               extra={"fast_count_reason": reason, "fast_count_alias": alias})
    if first:
        warnings.warn(message, FastCountFallbackWarning, stacklevel=5)


def fallbacks() -> Dict[Tuple[str, str], int]:
    """How many counts of this process fell back to Django's count(), by
    (database alias, reason): "missing" (no extension), "vendor" (not
    PostgreSQL), "placeholders", or "error <SQLSTATE>"."""
    with _lock:
        return dict(_fallbacks)


def reset_fallbacks() -> None:
    with _lock:
        _fallbacks.clear()


def forget_extension_state(alias=None) -> None:
    """Look the extension up again on the next count, and warn again (for
    one database alias or all): after installing the extension, and in
    tests."""
    extension.forget(alias)
    with _lock:
        _warned.difference_update({key for key in _warned if alias is None or key[0] == alias})


def plain_count(queryset) -> int:
    """Django's own count() of the queryset, whatever its class."""
    return QuerySet.count(queryset)


def options_of(queryset, overrides) -> CountOptions:
    base = getattr(queryset, "_fast_count_options", None) or DEFAULT
    return base.merged(**overrides) if overrides else base


class CountInfo(NamedTuple):
    """What a count is and where it comes from.

    ``source``: "cached" (served from a count made at ``counted_at``),
    "live" (counted by this call), "exact" (kept exact by a registration in
    exact mode, as of this call), "estimate" (the planner's estimate, at
    ``counted_at``). ``fallback`` is the reason when Django's count() made
    it (then "live"), else None."""

    count: int
    counted_at: datetime.datetime
    source: str
    fallback: Optional[str] = None


_ENTRIES_SQL = """
    SELECT mode, is_estimate, count, counted_at
      FROM %s.fast_count_entries
     WHERE query = %%s AND coalesce(params, '{}') = %%s::text[]
"""


def _info(connection, count: int, statement, started) -> CountInfo:
    """Reads the entry the count came from in fast_count_entries (the rows
    the caller may see), by the statement's text and parameters."""
    with protected(connection), connection.cursor() as cursor:
        cursor.execute(_ENTRIES_SQL % connection.ops.quote_name(extension.schema(connection)),
                       [statement.sql, list(statement.params)])
        rows = cursor.fetchall()
    if any(mode == "exact" for mode, _, _, _ in rows):
        return CountInfo(count, started, "exact")
    served = sorted((row for row in rows if row[2] == count and row[3] is not None),
                    key=lambda row: row[3], reverse=True)
    if not served:
        return CountInfo(count, started, "live")
    _, is_estimate, _, counted_at = served[0]
    if is_estimate:
        return CountInfo(count, counted_at, "estimate")
    if counted_at >= started:
        return CountInfo(count, counted_at, "live")
    return CountInfo(count, counted_at, "cached")


def _count(queryset, strict: bool, options: CountOptions, with_info: bool):
    """fast_count() of the queryset, as (count, CountInfo or None)."""
    if queryset._result_cache is not None:
        count = len(queryset._result_cache)
        return count, CountInfo(count, timezone.now(), "live") if with_info else None
    alias = queryset.db
    connection = connections[alias]

    def fall_back(reason, message):
        _fallback(queryset, alias, reason, message)
        count = plain_count(queryset)
        return count, CountInfo(count, timezone.now(), "live", reason) if with_info else None

    if connection.vendor != "postgresql":
        if strict:
            raise NotImplementedError("fast_count needs PostgreSQL, not %s" % connection.vendor)
        return fall_back("vendor", "it is %s, not PostgreSQL" % connection.vendor)
    try:
        sql, values = count_sql(queryset, connection)
    except EmptyResultSet:
        # none(), filter(pk__in=[]): Django's count() is 0 too, without a query
        return 0, CountInfo(0, timezone.now(), "live") if with_info else None
    if extension.schema(connection) is None:
        if strict:
            raise extension.ExtensionMissing(alias)
        return fall_back("missing", "the fast_count extension is not installed")
    try:
        prepared = prepare(connection, sql, values)
        started = None
        if with_info:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_catalog.clock_timestamp()")
                started = cursor.fetchone()[0]
        count, statement = run(connection, prepared, "fast_count", "%s, %s::text[]",
                               lambda statement: [statement.sql, list(statement.params)],
                               options.settings())
        return count, _info(connection, count, statement, started) if with_info else None
    except PlaceholderError as error:
        if strict:
            raise
        return fall_back("placeholders", "cannot pass the query's parameters (%s)" % error)
    except _FALLBACK_ERRORS as error:
        if strict:
            raise
        if pgcode(error) == _UNDEFINED_FUNCTION:
            extension.forget(alias)  # dropped since we looked it up?
            if extension.schema(connection) is None:
                return fall_back("missing", "the fast_count extension is not installed")
        return fall_back("error " + pgcode(error),
                         "fast_count() failed: %s" % str(error).strip())


def paginated_count(queryset) -> int:
    """The count a paginator shows: fast_count(), unless the queryset asked
    for Django's own (``.exact()``)."""
    if getattr(queryset, "_fast_count_mode", None) == "exact":
        return plain_count(queryset)
    return fast_count(queryset)


def fast_count(queryset, *, strict: bool = False, **options) -> int:
    """The number of rows of ``queryset`` (what ``count()`` returns), from
    fast_count() in its database.

    ``options`` (see options.CountOptions: ``cache_counts_larger_than``,
    ``cache_counts_slower_than``, ``expire_cached_counts_after``,
    ``estimate_on_miss``) apply to this call, over the queryset's own.
    Falls back to Django's count() when fast_count() cannot be used;
    ``strict=True`` raises instead (ExtensionMissing, the database error,
    NotImplementedError for another database vendor).
    """
    return _count(queryset, strict, options_of(queryset, options), False)[0]


def count_info(queryset, *, strict: bool = False, **options) -> CountInfo:
    """The count of ``queryset`` (as fast_count() gives it) with when it was
    counted and where it came from, for "about 12.4M, as of 10:31"."""
    return _count(queryset, strict, options_of(queryset, options), True)[1]
