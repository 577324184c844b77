"""What Django users expect: per-manager and per-queryset thresholds and
expiry, asking for a fast or an exact count per queryset, what a count is and
where it came from, and fallbacks one can count."""

import datetime
import logging
import time
import warnings

from django.db import connection
from django.db.models import QuerySet
from django.test import TestCase, TransactionTestCase, override_settings
from django.utils import timezone

from fast_count_django import (CountOptions, FastCountFallbackWarning, count_info, count_statement,
                               fallbacks, fast_count, forget_extension_state, register,
                               reset_fallbacks)
from fast_count_django.paginator import FastCountPaginator

from .data import create_library
from .library.models import Author, Book

UTC = datetime.timezone.utc


def setting(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


def entries(queryset):
    """(kind, count, refresh_every, expires_at - counted_at) of the entries of
    the queryset's count statement."""
    statement = count_statement(queryset)
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, count, refresh_every, expires_at - counted_at FROM fast_count_entries"
                       " WHERE query = %s AND coalesce(params, '{}') = %s::text[]",
                       [statement.sql, list(statement.params)])
        return cursor.fetchall()


def add_book(**fields):
    fields = {"title": "added", "pages": 5000, "published": True,
              "created_at": datetime.datetime(2024, 6, 1, tzinfo=UTC), **fields}
    return Book.objects.create(author=Author.objects.first(), **fields)


class Thresholds(TestCase):
    @classmethod
    def setUpTestData(cls):
        create_library()

    def test_a_managers_thresholds_and_expiry_apply_to_its_counts(self):
        # 30-odd rows: far below the database's 1,000,000, so Book.objects
        # counts live and keeps nothing; Book.cached keeps every count.
        self.assertEqual(setting("fast_count.cache_larger_than"), "1000000")
        plain = Book.objects.filter(pages__gt=400)
        self.assertEqual(plain.count(), QuerySet.count(plain))
        self.assertEqual(entries(plain), [])
        cached = Book.cached.filter(pages__gt=300)
        expected = QuerySet.count(cached)
        self.assertEqual(cached.count(), expected)
        self.assertEqual(entries(cached), [("retroactive", expected, None, datetime.timedelta(minutes=5))])
        add_book()
        self.assertEqual(cached.count(), expected, "served from the kept count")
        self.assertEqual(cached.exact_count(), expected + 1)
        # The settings are the caller's again, inside its transaction.
        self.assertEqual(setting("fast_count.cache_larger_than"), "1000000")
        self.assertEqual(setting("fast_count.expire_after"), "10min")

    def test_a_querysets_options_override_the_managers(self):
        books = Book.objects.fast(cache_counts_larger_than=0, expire_cached_counts_after=60)
        chained = books.filter(pages__lt=900).exclude(title="book 12").order_by("-id")
        expected = QuerySet.count(chained)
        self.assertEqual(chained.count(), expected)
        self.assertEqual(entries(chained), [("retroactive", expected, None, datetime.timedelta(minutes=1))])
        # Per call, over the queryset's: not kept below 1000 rows.
        other = Book.cached.filter(pages__lt=800)
        self.assertEqual(fast_count(other, cache_counts_larger_than=1000), QuerySet.count(other))
        self.assertEqual(entries(other), [])

    def test_the_callers_own_settings_survive(self):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL fast_count.cache_larger_than = 12345")
            cursor.execute("SET LOCAL fast_count.expire_after = '42s'")
        self.assertEqual(Book.cached.filter(published=True).count(),
                         QuerySet.count(Book.objects.filter(published=True)))
        self.assertEqual(setting("fast_count.cache_larger_than"), "12345")
        self.assertEqual(setting("fast_count.expire_after"), "42s")

    def test_a_reader_with_a_shorter_expiry_recounts(self):
        books = Book.cached.filter(pages__gt=600)
        expected = QuerySet.count(books)
        self.assertEqual(books.count(), expected)
        add_book()
        self.assertEqual(books.count(), expected)
        time.sleep(1.2)
        self.assertEqual(books.fast(expire_cached_counts_after=1).count(), expected + 1)

    def test_precache_count_every_is_the_default_interval_of_registrations(self):
        register(Book.cached.filter(published=False))
        self.assertEqual(entries(Book.cached.filter(published=False))[0][:3:2],
                         ("registered", datetime.timedelta(minutes=2)))
        register(Book.objects.fast(precache_count_every=datetime.timedelta(minutes=7)).filter(pages=87))
        self.assertEqual(entries(Book.objects.filter(pages=87))[0][2], datetime.timedelta(minutes=7))
        register(Book.cached.filter(pages=124), datetime.timedelta(minutes=9))
        self.assertEqual(entries(Book.objects.filter(pages=124))[0][2], datetime.timedelta(minutes=9))

    def test_bad_options_are_refused(self):
        for options in ({"cache_counts_larger_than": -1}, {"expire_cached_counts_after": 0},
                        {"precache_count_every": "1 minute"}, {"no_such_option": 1}):
            with self.subTest(options), self.assertRaises((ValueError, TypeError)):
                Book.objects.fast(**options)
        self.assertEqual(CountOptions(cache_counts_slower_than=datetime.timedelta(seconds=-1)).settings(),
                         [("fast_count.cache_slower_than", "-1")])


class AutocommitSettings(TransactionTestCase):
    """Outside a transaction the statement's own transaction ends the
    settings it set; the session's own values stay."""

    def test_settings_in_autocommit_mode(self):
        create_library()
        self.assertTrue(connection.get_autocommit())
        with connection.cursor() as cursor:
            cursor.execute("SET fast_count.cache_larger_than = 777")
        try:
            # (Authors: the registration tests want no other entries over books.)
            authors = Author.objects.fast(cache_counts_larger_than=0).filter(country="fr")
            self.assertEqual(authors.count(), QuerySet.count(authors))
            self.assertEqual(len(entries(authors)), 1, "kept under the queryset's threshold")
            self.assertEqual(setting("fast_count.cache_larger_than"), "777")
            self.assertEqual(setting("fast_count.expire_after"), "10min")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET fast_count.cache_larger_than")


class FastOrExact(TestCase):
    @classmethod
    def setUpTestData(cls):
        create_library()

    def test_a_manager_that_does_not_change_count_unless_asked(self):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL fast_count.cache_larger_than = 0")
        books = Book.exact_objects.filter(pages__gt=200)
        fast = books.fast()
        expected = QuerySet.count(books)
        self.assertEqual(fast.count(), expected)   # now cached
        add_book()
        self.assertEqual(books.count(), expected + 1, "Django's count()")
        self.assertEqual(fast.count(), expected, "the cached count")
        self.assertEqual(fast.filter(published=True).exclude(pages=0).fast().exact().count(),
                         QuerySet.count(Book.objects.filter(pages__gt=200, published=True)))
        # The choice follows the queryset through chaining and slicing.
        self.assertEqual(Book.objects.exact().filter(pages__gt=200).count(), expected + 1)
        self.assertEqual(Book.objects.filter(pages__gt=200).order_by("id").count(), expected)
        # A paginator honours it too.
        self.assertEqual(FastCountPaginator(Book.objects.filter(pages__gt=200).exact(), 5).count,
                         expected + 1)
        self.assertEqual(FastCountPaginator(Book.exact_objects.filter(pages__gt=200).fast(), 5).count,
                         expected)


class Introspection(TestCase):
    databases = {"default", "noext"}

    @classmethod
    def setUpTestData(cls):
        create_library()

    def test_count_info_says_where_the_count_came_from(self):
        before = timezone.now()
        live = Book.objects.filter(pages__gt=100).count_info()
        self.assertEqual((live.count, live.source, live.fallback),
                         (QuerySet.count(Book.objects.filter(pages__gt=100)), "live", None))
        self.assertGreaterEqual(live.counted_at, before - datetime.timedelta(seconds=5))

        books = Book.cached.filter(pages__gt=500)
        first = books.count_info()
        self.assertEqual((first.count, first.source), (QuerySet.count(books), "live"), "counted and kept")
        add_book()
        second = books.count_info()
        self.assertEqual((second.count, second.source, second.counted_at),
                         (first.count, "cached", first.counted_at))
        self.assertEqual(count_info(Book.objects.filter(pages__gt=500)).source, "cached",
                         "any reader of that count")

    def test_estimates_and_exact_counts(self):
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE library_book")
        estimate = Book.objects.filter(pages__lt=1000).fast(estimate_on_miss=True).count_info()
        self.assertEqual(estimate.source, "estimate")
        books = Book.objects.filter(published=True, pages__gt=100)
        register(books, mode="exact")
        exact = books.count_info()
        self.assertEqual((exact.count, exact.source), (QuerySet.count(books), "exact"))
        add_book()
        info = books.count_info()
        self.assertEqual((info.count, info.source), (QuerySet.count(books), "exact"))

    def test_count_info_of_a_fallback(self):
        forget_extension_state()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FastCountFallbackWarning)
            info = Author.objects.using("noext").count_info()
        self.assertEqual((info.count, info.source, info.fallback), (0, "live", "missing"))
        self.assertEqual(Book.objects.exact().count_info().source, "live")


class CountableFallbacks(TestCase):
    databases = {"default", "noext"}

    def setUp(self):
        forget_extension_state()
        reset_fallbacks()
        quiet = warnings.catch_warnings()
        quiet.__enter__()
        warnings.simplefilter("ignore", FastCountFallbackWarning)
        self.addCleanup(quiet.__exit__, None, None, None)

    @override_settings(FAST_COUNT_FALLBACK_LOG_LEVEL="INFO")
    def test_every_fallback_is_counted_and_logged(self):
        authors = Author.objects.using("noext")
        with self.assertLogs("fast_count_django", level="INFO") as logs:
            for _ in range(3):
                authors.count()
            authors.filter(country="fr").count()
        self.assertEqual(fallbacks(), {("noext", "missing"): 4})
        self.assertEqual([record.levelno for record in logs.records], [logging.INFO] * 4)
        self.assertIn("library.Author", logs.records[0].getMessage())
        self.assertEqual(logs.records[-1].fast_count_reason, "missing")
        Author.objects.count()  # the default database has the extension
        self.assertEqual(fallbacks(), {("noext", "missing"): 4})
        reset_fallbacks()
        self.assertEqual(fallbacks(), {})

    def test_the_default_level_is_warning(self):
        with self.assertLogs("fast_count_django", level="DEBUG") as logs:
            Author.objects.using("noext").count()
            Author.objects.using("noext").count()
        self.assertEqual([record.levelno for record in logs.records], [logging.WARNING] * 2)

