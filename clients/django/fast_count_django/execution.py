"""Calling the extension's functions with a prepared count statement.

Inside a transaction the call runs in a savepoint, so that an error (the
extension dropped, a query fast_count() refuses) does not abort the caller's
transaction. A string or None parameter is sent untyped, like psycopg2's
literal, and takes its type from where the query uses it; where nothing
gives it one (``CONCAT(..., $1)``), the extension reads it as text, as
PostgreSQL reads such a literal.

Per-call settings (a manager's or queryset's thresholds, see options.py) are
set with ``set_config(..., true)`` by the very statement that calls the
function, and put back by it afterwards: in autocommit mode they die with the
statement's transaction anyway, inside the caller's transaction they would
otherwise last until its end. Should the call fail, the savepoint's rollback
puts them back.
"""

from typing import Callable, Sequence, Tuple

from django.db import DataError, NotSupportedError, ProgrammingError

from . import extension
from .savepoint import protected  # noqa: F401 (also imported from here)
from .statement import CountStatement, Prepared

# 42803: "must appear in the GROUP BY clause", 42P10: "ORDER BY expressions
# must appear in select list": what PostgreSQL says of an expression that
# Django repeats with a parameter each time, when the parameters differ.
_REPEATED_EXPRESSION = ("42803", "42P10")


def pgcode(error) -> str:
    """The SQLSTATE of a database error Django wrapped (psycopg2's pgcode,
    psycopg 3's sqlstate)."""
    cause = error.__cause__
    return getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None) or ""


_calls = {}   # (schema, function, arguments_sql, setting names) -> SQL


def call_sql(connection, function: str, arguments_sql: str,
             settings: Sequence[Tuple[str, str]] = ()) -> str:
    """``SELECT <function>(<arguments_sql>)``, with ``settings`` (name,
    value) set around the call (their values become the first parameters)."""
    key = (extension.function(connection, function), arguments_sql,
           tuple(name for name, _ in settings))
    found = _calls.get(key)
    if found is None:
        found = _calls[key] = _call_sql(key[0], arguments_sql, settings)
    return found


def _call_sql(function: str, arguments_sql: str, settings) -> str:
    call = "%s(%s)" % (function, arguments_sql)
    if not settings:
        return "SELECT " + call
    names = [name for name, _ in settings]   # options.py's own names, never the caller's
    # Each step reads the one before (LATERAL), so PostgreSQL runs them in
    # this order: remember, set, call, put back; OFFSET 0 keeps each apart.
    remember = ", ".join("pg_catalog.current_setting('%s', true) AS o%d" % (name, i)
                         for i, name in enumerate(names))
    assign = ", ".join("pg_catalog.set_config('%s', %%s, true) AS s%d" % (name, i)
                       for i, name in enumerate(names))
    restore = ", ".join("pg_catalog.set_config('%s', o.o%d, true)" % (name, i)
                        for i, name in enumerate(names))
    return ("SELECT c.v FROM (SELECT %s OFFSET 0) AS o"
            " CROSS JOIN LATERAL (SELECT %s, o.o0 OFFSET 0) AS s"
            " CROSS JOIN LATERAL (SELECT %s AS v, s.s0 OFFSET 0) AS c"
            " CROSS JOIN LATERAL (SELECT %s, c.v OFFSET 0) AS r"
            % (remember, assign, call, restore))


def run(connection, prepared: Prepared, function: str, arguments_sql: str,
        arguments: Callable[[CountStatement], list],
        settings: Sequence[Tuple[str, str]] = ()):
    """``SELECT <function>(<arguments_sql>)`` with ``arguments(statement)``,
    under ``settings``; returns (the single value, the statement that gave
    it). ``function`` is one of the extension's."""
    call = call_sql(connection, function, arguments_sql, settings)
    values = [value for _, value in settings]
    refused = None
    for attempt, statement in enumerate(prepared.statements()):
        if refused is not None and pgcode(refused) not in _REPEATED_EXPRESSION:
            raise refused
        try:
            with protected(connection), connection.cursor() as cursor:
                cursor.execute(call, values + arguments(statement))
                result = cursor.fetchone()[0]
        except (ProgrammingError, DataError, NotSupportedError) as error:
            refused = error
            continue
        if attempt:
            prepared.learned(statement)
        return result, statement
    if refused is not None:
        raise refused
    raise AssertionError("no statement to run")  # pragma: no cover
