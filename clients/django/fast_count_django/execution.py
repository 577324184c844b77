"""Calling the extension's functions with a prepared count statement.

Inside a transaction the call runs in a savepoint, so that an error (the
extension dropped, a query fast_count() refuses) does not abort the caller's
transaction. A string or None parameter is sent untyped, like psycopg2's
literal, and takes its type from where the query uses it; where nothing
gives it one (``CONCAT(..., $1)``), the extension reads it as text, as
PostgreSQL reads such a literal.
"""

import contextlib
from typing import Callable

from django.db import transaction

from . import extension
from .statement import CountStatement, Prepared


def protected(connection):
    """A savepoint when the caller is inside a transaction (a failed
    statement there would abort it), nothing in autocommit mode."""
    if connection.in_atomic_block or not connection.get_autocommit():
        return transaction.atomic(using=connection.alias)
    return contextlib.nullcontext()


def pgcode(error) -> str:
    """The SQLSTATE of a database error Django wrapped (psycopg2's pgcode,
    psycopg 3's sqlstate)."""
    cause = error.__cause__
    return getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None) or ""


def run(connection, prepared: Prepared, function: str, arguments_sql: str,
        arguments: Callable[[CountStatement], list]):
    """``SELECT <function>(<arguments_sql>)`` with ``arguments(statement)``;
    returns the single value. ``function`` is one of the extension's."""
    call = "SELECT %s(%s)" % (extension.function(connection, function), arguments_sql)
    with protected(connection), connection.cursor() as cursor:
        cursor.execute(call, arguments(prepared.statement()))
        return cursor.fetchone()[0]
