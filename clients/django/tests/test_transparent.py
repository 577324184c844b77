"""Transparent mode: a project with no fast_count code (a plain
models.Manager, Django's own count()) is answered from an exact
registration; the hits show in fast_count_entries.

TransactionTestCase: the registration is committed, as in production."""

from django.db import connection
from django.test import TransactionTestCase

from .data import create_library
from .library.models import Book


def plain():
    """Book through Django's own models.Manager, no fast_count code."""
    return Book._base_manager.all()


def hits():
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(hits), 0) FROM fast_count_entries")
        return cursor.fetchone()[0]


def register_exact(queryset):
    """Registers the queryset's own SELECT (target list and all) in exact mode."""
    sql, params = queryset.query.sql_with_params()
    text = sql.replace("%s", "$%d")
    text = text % tuple(range(1, len(params) + 1)) if params else text
    with connection.cursor() as cursor:
        cursor.execute("SELECT fast_count._exact_settle(fast_count_register(%s, NULL, %s::text[],"
                       " 'exact'))", [text, [str(p) for p in params]])


class Transparent(TransactionTestCase):
    def setUp(self):
        create_library()

    def test_plain_count_is_answered_from_the_exact_registration(self):
        queryset = plain().filter(pages__gt=700)
        expected = len(list(plain().filter(pages__gt=700)))
        register_exact(queryset)
        before = hits()
        self.assertEqual(queryset.count(), expected)
        self.assertEqual(plain().filter(pages__gt=700).count(), expected)
        self.assertEqual(hits(), before + 2)

    def test_writes_are_seen_at_once(self):
        queryset = plain().filter(pages__gt=700)
        register_exact(queryset)
        book = plain().filter(pages__gt=700).first()
        expected = queryset.count() - 1
        book.delete()
        self.assertEqual(plain().filter(pages__gt=700).count(), expected)

    def test_off_counts_as_written(self):
        queryset = plain().filter(pages__gt=700)
        register_exact(queryset)
        with connection.cursor() as cursor:
            cursor.execute("SET fast_count.transparent = off")
        before = hits()
        self.assertEqual(queryset.count(), len(list(plain().filter(pages__gt=700))))
        self.assertEqual(hits(), before)
        with connection.cursor() as cursor:
            cursor.execute("RESET fast_count.transparent")
