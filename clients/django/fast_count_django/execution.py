"""Calling the extension's functions with a prepared count statement.

Two things make this more than a cursor.execute():

- Inside a transaction the call runs in a savepoint, so that an error (the
  extension dropped, a query fast_count() refuses) does not abort the
  caller's transaction.
- A string or None parameter is sent untyped, like psycopg2's literal, and
  takes its type from where the query uses it. Where nothing gives it one
  (``CONCAT(..., $1)``, ``$1 IS NULL``), PostgreSQL types an unknown literal
  as text but refuses an untyped parameter ("could not determine data type
  of parameter $n", 42P18). The call is then repeated with that parameter
  cast to text, and the casts a query needed are remembered, so the next
  count of it takes one round trip again.
"""

import contextlib
import re
from typing import Callable, FrozenSet

from django.db import ProgrammingError, transaction

from . import extension
from .statement import CountStatement, Prepared, remember_text_casts, text_casts

_INDETERMINATE_DATATYPE = "42P18"
_PARAMETER = re.compile(r"\$(\d+)")


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


def _untypable_parameter(error, prepared: Prepared, as_text: FrozenSet[int]):
    """The number of the parameter PostgreSQL could not type, if casting it
    to text is what its literal would have got."""
    if pgcode(error) != _INDETERMINATE_DATATYPE:
        return None
    found = _PARAMETER.search(str(error))
    if not found:
        return None
    number = int(found.group(1))
    if not 1 <= number <= len(prepared.params) or number in as_text:
        return None
    if prepared.params[number - 1].cast is not None:
        return None  # typed already: not ours to fix
    return number


def run(connection, prepared: Prepared, function: str, arguments_sql: str,
        arguments: Callable[[CountStatement], list]):
    """``SELECT <function>(<arguments_sql>)`` with ``arguments(statement)``;
    returns the single value. ``function`` is one of the extension's."""
    call = "SELECT %s(%s)" % (extension.function(connection, function), arguments_sql)
    as_text = text_casts(connection.alias, prepared)
    while True:
        statement = prepared.statement(as_text)
        try:
            with protected(connection), connection.cursor() as cursor:
                cursor.execute(call, arguments(statement))
                return cursor.fetchone()[0]
        except ProgrammingError as error:
            number = _untypable_parameter(error, prepared, as_text)
            if number is None:
                raise
            as_text = as_text | {number}
            remember_text_casts(connection.alias, prepared, as_text)
