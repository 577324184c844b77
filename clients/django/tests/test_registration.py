"""Registered querysets are re-counted by the extension's background worker.

TransactionTestCase: the worker runs in its own session and sees committed
rows only. Every wait is bounded."""

import datetime
import decimal
import io
import time
from unittest import mock

from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, QuerySet, Value
from django.db.models.functions import Concat
from django.test import TransactionTestCase
from psycopg2.extras import NumericRange

from fast_count_django import count_statement, refresh, register, unregister
from fast_count_django.registry import declared

from .data import create_library
from .library.models import Book, Ticket

ONE_SECOND = datetime.timedelta(seconds=1)
WAIT = 30  # seconds; the worker re-counts every second


def entry(queryset):
    """(kind, count, refresh_every) of the queryset's cache entry, or None."""
    statement = count_statement(queryset)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, count, refresh_every FROM fast_count_entries"
            " WHERE query = %s AND coalesce(params, '{}') = %s::text[]",
            [statement.sql, list(statement.params)])
        rows = cursor.fetchall()
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def kinds_over(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind FROM fast_count_entries WHERE %s::regclass = ANY (relations)"
                       " ORDER BY kind", [table])
        return [row[0] for row in cursor.fetchall()]


class Registration(TransactionTestCase):
    def wait_for_count(self, queryset, expected):
        deadline = time.monotonic() + WAIT
        while True:
            found = entry(queryset)
            if found is not None and found[1] == expected:
                return
            if time.monotonic() > deadline:
                self.fail("the worker did not count %d within %ds (entry: %r)" % (expected, WAIT, found))
            time.sleep(0.1)

    def test_the_migration_registered_the_declared_querysets(self):
        tickets = [queryset for queryset, _ in declared(Ticket)]
        start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
        tickets.append(Ticket.objects.filter(opened_at__gte=start, opened_at__lt=start.replace(year=2025)))
        for queryset in tickets:
            with self.subTest(str(queryset.query.where)):
                kind, _, refresh_every = entry(queryset)
                self.assertEqual((kind, refresh_every), ("registered", ONE_SECOND))

    def test_the_worker_refreshes_registered_querysets(self):
        open_tickets = Ticket.objects.filter(open=True)
        urgent = Ticket.objects.filter(subject__icontains="urgent")
        for subject, is_open in [("urgent: a", True), ("b", True), ("c", False), ("URGENT d", False)]:
            Ticket.objects.create(subject=subject, open=is_open)
        self.wait_for_count(open_tickets, 2)
        self.wait_for_count(urgent, 2)
        Ticket.objects.filter(subject="b").update(open=False)
        Ticket.objects.create(subject="not so urgent", open=True)
        Ticket.objects.create(subject="e", open=True)
        self.wait_for_count(open_tickets, 3)
        self.wait_for_count(urgent, 3)
        # count() reads the entry the worker keeps.
        self.assertEqual(open_tickets.count(), 3)
        self.assertEqual(urgent.count(), 3)
        self.assertEqual(kinds_over("library_ticket").count("retroactive"), 0)

    def test_register_refresh_unregister(self):
        create_library()
        books = Book.objects.filter(
            published_on__gte=datetime.date(2001, 1, 1), price__gt=decimal.Decimal("12.5"),
            metadata__genre__in=["history", "poetry"], title__icontains="o", keywords__len__lt=3)
        expected = QuerySet.count(books)
        self.assertGreater(expected, 0)
        self.assertEqual(entry(books), None)
        key = register(books, ONE_SECOND)
        try:
            self.assertEqual(entry(books)[0], "registered")
            self.wait_for_count(books, expected)
            Book.objects.filter(pk__in=books.values("pk")[:2]).update(price=1)
            self.wait_for_count(books, expected - 2)
            self.assertEqual(books.count(), expected - 2)
            self.assertEqual(register(books, datetime.timedelta(minutes=5)), key, "the same entry")
            self.assertEqual(entry(books)[2], datetime.timedelta(minutes=5))
            Book.objects.filter(pk__in=books.values("pk")[:1]).update(price=1)
            self.assertEqual(refresh(books), expected - 3)
            self.assertEqual(entry(books)[1], expected - 3)
        finally:
            self.assertTrue(unregister(books))
        self.assertEqual(entry(books), None)
        self.assertFalse(unregister(books))

    def test_count_and_registration_share_one_entry(self):
        create_library()
        querysets = [
            Book.objects.all(),
            Book.objects.filter(author__country="fr").order_by("-pages").select_related("author"),
            Book.objects.filter(created_at__date=datetime.date(2024, 2, 1), pages__in=[87, 124, 161]),
            # CONCAT() gives its parameter no type: the extension reads it as text
            Book.objects.annotate(label=Concat("title", Value(" by "), "author__name")).filter(
                label__contains="by author 2"),
            # parameters whose text PostgreSQL writes
            Book.objects.filter(page_range__overlap=NumericRange(3, 9), server_ip="10.0.0.1"),
        ]
        try:
            for queryset in querysets:
                register(queryset, datetime.timedelta(hours=1))
            with connection.cursor() as cursor:
                cursor.execute("SET fast_count.cache_larger_than = 0")
            for queryset in querysets:
                with self.subTest(str(queryset.query.where)):
                    self.assertGreater(QuerySet.count(queryset), 0)
                    self.assertEqual(queryset.count(), QuerySet.count(queryset))
                    self.assertEqual(entry(queryset)[:2], ("registered", QuerySet.count(queryset)))
            # Had count() used another key, it would have cached a retroactive entry.
            self.assertEqual(kinds_over("library_book"), ["registered"] * len(querysets))
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET fast_count.cache_larger_than")
            for queryset in querysets:
                unregister(queryset)

    def test_querysets_with_repeated_expressions_and_tuples_are_registrable(self):
        create_library()
        querysets = [
            Book.objects.values(hundreds=F("pages") / 100).annotate(n=Count("id")),
            Book.objects.values("metadata__genre").annotate(n=Count("id")),
            Book.objects.values(path=Concat("author__country", Value("/"), "author__name")).annotate(
                n=Count("id")),
            Book.objects.order_by(Concat("title", Value("!"))).distinct()[:30],
            Book.objects.extra(where=["pages IN %s"], params=[(50, 87, 124)]),
        ]
        try:
            registered = []
            for queryset in querysets:
                with self.subTest(str(queryset.query)):
                    register(queryset, datetime.timedelta(hours=1))
                    self.assertEqual(entry(queryset)[0], "registered")
                    registered.append(refresh(queryset))
                    self.assertEqual(registered[-1], QuerySet.count(queryset))
                    self.assertEqual(queryset.count(), registered[-1])
            # A new genre and a new book of 87 pages: Django's count sees
            # them, the registered counts that count() is served do not yet.
            Book.objects.create(title="zzz", author=Book.objects.first().author, pages=87,
                                created_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
                                metadata={"genre": "new"})
            for queryset, count in zip(querysets, registered):
                with self.subTest(str(queryset.query)):
                    self.assertEqual(queryset.count(), count)
            self.assertEqual(QuerySet.count(querysets[1]), registered[1] + 1)
            self.assertEqual(QuerySet.count(querysets[4]), registered[4] + 1)
            self.assertEqual(kinds_over("library_book"), ["registered"] * len(querysets))
        finally:
            for queryset in querysets:
                unregister(queryset)

    def test_the_command_registers_each_queryset_in_a_savepoint(self):
        good = Ticket.objects.filter(subject="first")
        # fast_count_register() refuses a random sample (volatile): the others
        # must be registered all the same.
        bad = Ticket.objects.order_by("?")[:3]
        also_good = Ticket.objects.filter(subject="last")
        declared_items = [good, (bad, ONE_SECOND), also_good]
        out, err = io.StringIO(), io.StringIO()
        try:
            with mock.patch.object(Ticket, "fast_count_querysets", classmethod(lambda cls: declared_items)):
                with self.assertRaisesRegex(CommandError, "1 queryset\\(s\\) could not be registered"):
                    call_command("fast_count_register", "library", stdout=out, stderr=err)
            self.assertIn("2 queryset(s) registered", out.getvalue())
            self.assertIn("library.Ticket: cannot register queryset <SELECT", err.getvalue())
            self.assertIn("RANDOM()", err.getvalue(), "which queryset")
            self.assertEqual(entry(good)[0], "registered")
            self.assertEqual(entry(also_good)[0], "registered")
            self.assertIsNone(entry(bad))
        finally:
            unregister(good)
            unregister(also_good)

    def test_management_command(self):
        declared_querysets = [queryset for queryset, _ in declared(Ticket)]
        out = io.StringIO()
        call_command("fast_count_register", "library", "--dry-run", stdout=out)
        self.assertIn("2 queryset(s) registered (dry run)", out.getvalue())
        with self.assertRaisesRegex(CommandError, "no_such_app"):
            call_command("fast_count_register", "no_such_app", stdout=io.StringIO())
        other_app = io.StringIO()
        call_command("fast_count_register", "auth", "--dry-run", stdout=other_app)
        self.assertIn("0 queryset(s) registered (dry run)", other_app.getvalue(), "only the apps named")
        self.assertIn(count_statement(declared_querysets[0]).sql, out.getvalue())
        try:
            call_command("fast_count_register", "library", "--unregister", stdout=io.StringIO())
            for queryset in declared_querysets:
                self.assertIsNone(entry(queryset))
        finally:
            out = io.StringIO()
            call_command("fast_count_register", stdout=out)
        self.assertIn("2 queryset(s) registered", out.getvalue())
        for queryset in declared_querysets:
            self.assertEqual(entry(queryset)[::2], ("registered", ONE_SECOND))

    def test_the_migration_operation_is_reversible(self):
        declared_querysets = [queryset for queryset, _ in declared(Ticket)]
        try:
            call_command("migrate", "library", "0001", verbosity=0)
            for queryset in declared_querysets:
                self.assertIsNone(entry(queryset))
        finally:
            call_command("migrate", "library", verbosity=0)
        for queryset in declared_querysets:
            self.assertEqual(entry(queryset)[::2], ("registered", ONE_SECOND))
