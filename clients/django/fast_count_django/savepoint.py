"""A savepoint around what may fail inside the caller's transaction."""

import contextlib

from django.db import transaction


def protected(connection):
    """A savepoint when the caller is inside a transaction (a failed
    statement there would abort it), nothing in autocommit mode."""
    if connection.in_atomic_block or not connection.get_autocommit():
        return transaction.atomic(using=connection.alias)
    return contextlib.nullcontext()
