"""Without the extension, or when fast_count() refuses a query, count() is
Django's plain count(): right, with one warning, and the caller's
transaction goes on."""

import warnings

from django.db import connection, connections, transaction
from django.db.models import IntegerField, QuerySet
from django.db.models.expressions import RawSQL
from django.test import TestCase

from fast_count_django import (ExtensionMissing, FastCountFallbackWarning, fast_count,
                               forget_extension_state)

from .data import create_library
from .library.models import Author, Book


class RecordWarnings:
    def __enter__(self):
        self._catcher = warnings.catch_warnings(record=True)
        self.all = self._catcher.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        return self._catcher.__exit__(*exc)

    @property
    def fast_count(self):
        return [str(w.message) for w in self.all if issubclass(w.category, FastCountFallbackWarning)]


def extension_installed(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'fast_count'")
        return cursor.fetchone()[0] == 1


class DatabaseWithoutTheExtension(TestCase):
    databases = {"default", "noext"}

    @classmethod
    def setUpTestData(cls):
        for i in range(12):
            Author.objects.using("noext").create(name="a%d" % i, country=["fr", "de", "it"][i % 3])

    def setUp(self):
        forget_extension_state()

    def test_counts_right_and_warns_once(self):
        self.assertFalse(extension_installed("noext"))
        authors = Author.objects.using("noext")
        querysets = [authors.all(), authors.filter(country="fr"), authors.exclude(name__startswith="a1"),
                     authors.filter(country="de"), authors.all()[3:7]]
        with RecordWarnings() as recorded, transaction.atomic(using="noext"):
            for queryset in querysets:
                self.assertEqual(queryset.count(), QuerySet.count(queryset))
                self.assertGreater(queryset.count(), 0)
            # The transaction is fine.
            self.assertEqual(authors.filter(country="it").count(), 4)
        self.assertEqual(len(recorded.fast_count), 1, recorded.fast_count)
        self.assertIn("'noext'", recorded.fast_count[0])
        self.assertIn("not installed", recorded.fast_count[0])

    def test_strict_raises(self):
        with self.assertRaises(ExtensionMissing):
            fast_count(Author.objects.using("noext").all(), strict=True)

    def test_the_warning_is_per_database(self):
        with RecordWarnings() as recorded:
            Author.objects.using("noext").count()
            Author.objects.using("default").count()   # has the extension: no warning
            Author.objects.using("noext").count()
        self.assertEqual(len(recorded.fast_count), 1, recorded.fast_count)


class RefusedOrFailingCalls(TestCase):
    @classmethod
    def setUpTestData(cls):
        create_library()

    def setUp(self):
        forget_extension_state()

    def test_a_query_fast_count_refuses_is_counted_by_django(self):
        # fast_count() refuses a query that locks rows; Django counts it.
        locking = Book.objects.filter(pages__gt=RawSQL(
            "(SELECT pages + %s FROM library_book ORDER BY pages LIMIT 1 FOR UPDATE)", (100,), output_field=IntegerField()))
        expected = QuerySet.count(locking)
        self.assertGreater(expected, 0)
        with RecordWarnings() as recorded, transaction.atomic():
            self.assertEqual(locking.count(), expected)
            self.assertEqual(locking.count(), expected)
            self.assertEqual(Book.objects.filter(published=True).count(),
                             QuerySet.count(Book.objects.filter(published=True)))
        self.assertEqual(len(recorded.fast_count), 1, recorded.fast_count)
        self.assertIn("FOR UPDATE", recorded.fast_count[0])
        with self.assertRaisesRegex(Exception, "FOR UPDATE"), transaction.atomic():
            fast_count(locking, strict=True)

    def test_extension_dropped_while_the_process_runs(self):
        books = Book.objects.filter(published=True)
        expected = QuerySet.count(books)
        self.assertEqual(fast_count(books, strict=True), expected)  # the extension is known to be there
        with RecordWarnings() as recorded:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("DROP EXTENSION fast_count")
                self.assertEqual(books.count(), expected)
                self.assertEqual(books.filter(pages__gt=500).count(),
                                 QuerySet.count(books.filter(pages__gt=500)))
                transaction.set_rollback(True)  # bring the extension back
        self.assertEqual(len(recorded.fast_count), 1, recorded.fast_count)
        self.assertIn("not installed", recorded.fast_count[0])
        forget_extension_state()
        self.assertTrue(extension_installed("default"))
        self.assertEqual(fast_count(books, strict=True), expected)
