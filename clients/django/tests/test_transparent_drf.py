"""Transparent mode under Django REST framework: DRF's own
PageNumberPagination and LimitOffsetPagination over a ListAPIView of a
model with a plain models.Manager (no fast_count code in the path) return
counts answered from exact registrations written as a DBA would write them;
a write shows in the next count at once.

TransactionTestCase: the registrations are committed, as in production."""

import datetime

from django.db import connection
from django.test import TransactionTestCase
from django.test.utils import CaptureQueriesContext

from .data import create_library
from .library.models import Author, PlainBook
from .transparent import count_statements, explain, hits, register, unregister

ALL = "SELECT * FROM library_book"
PUBLISHED = "SELECT * FROM library_book WHERE published"
PAGINATIONS = {"page numbers": "/plain-books/", "limit and offset": "/plain-books-by-offset/"}


def add_published_book():
    PlainBook.objects.create(title="new", author=Author.objects.first(), published=True, pages=10,
                             created_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))


class Pagination(TransactionTestCase):
    def setUp(self):
        create_library()
        self.all = register(ALL)
        self.published = register(PUBLISHED)
        self.addCleanup(unregister, ALL)
        self.addCleanup(unregister, PUBLISHED)

    def get(self, url):
        with CaptureQueriesContext(connection) as captured:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return response.json(), count_statements(captured)

    def test_page_numbers(self):
        before = hits(self.published)
        page, statements = self.get("/plain-books/?published=1&page=3")
        self.assertEqual(page["count"], 26)
        self.assertEqual(len(page["results"]), 6)  # 26 books, 10 a page
        self.assertIsNone(page["next"])
        self.assertEqual(statements, ['SELECT COUNT(*) AS "__count" FROM "library_book"'
                                      ' WHERE "library_book"."published"'])
        self.assertEqual(hits(self.published), before + 1)
        self.assertIn("Cached Count: hit (exact)", explain(statements[0]))

    def test_limit_and_offset(self):
        before = hits(self.all)
        page, statements = self.get("/plain-books-by-offset/?limit=15&offset=30")
        self.assertEqual(page["count"], 40)
        self.assertEqual(len(page["results"]), 10)
        self.assertIsNone(page["next"])
        self.assertEqual(statements, ['SELECT COUNT(*) AS "__count" FROM "library_book"'])
        self.assertEqual(hits(self.all), before + 1)
        self.assertIn("Cached Count: hit (exact)", explain(statements[0]))

    def test_writes_show_at_once(self):
        for name, url in PAGINATIONS.items():
            with self.subTest(name):
                published = len([book for book in PlainBook.objects.all() if book.published])
                self.assertEqual(self.get(url + "?published=1")[0]["count"], published)
                add_published_book()
                before = hits(self.published)
                self.assertEqual(self.get(url + "?published=1")[0]["count"], published + 1)
                PlainBook.objects.filter(published=True).order_by("id")[0].delete()
                PlainBook.objects.filter(published=True).order_by("id")[0].delete()
                self.assertEqual(self.get(url + "?published=1")[0]["count"], published - 1)
                self.assertEqual(hits(self.published), before + 2)

    def test_an_unregistered_filter_is_counted_as_written(self):
        before = hits(self.all), hits(self.published)
        page, statements = self.get("/plain-books/?published=0")
        self.assertEqual(page["count"], 14)
        self.assertEqual((hits(self.all), hits(self.published)), before)
        self.assertIn("Cached Count: miss", explain(statements[0]))
