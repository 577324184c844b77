"""Paginated list views (DRF) and Django's paginator get their count from
fast_count()."""

import datetime

from django.db import connection
from django.db.models import QuerySet
from django.test import TestCase
from rest_framework.test import APIClient

from fast_count_django.paginator import FastCountPaginator

from .data import create_library
from .library.models import Author, Book


def cache_every_count():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL fast_count.cache_larger_than = 0")


def add_book(**fields):
    fields = {"title": "added", "pages": 5000, "published": True,
              "created_at": datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc), **fields}
    return Book.objects.create(author=Author.objects.first(), **fields)


class DRFPagination(TestCase):
    @classmethod
    def setUpTestData(cls):
        create_library()

    def setUp(self):
        self.client = APIClient()

    def test_page_number_pagination_counts_the_filtered_queryset(self):
        cases = {
            "": Book.objects.all(),
            "?published=1": Book.objects.filter(published=True),
            "?published=0&min_pages=500": Book.objects.filter(published=False, pages__gte=500),
            "?q=50%25": Book.objects.filter(title__icontains="50%"),
            "?q=%25s%20and": Book.objects.filter(title__icontains="%s and"),
            "?q=nothing+like+this": Book.objects.none(),
        }
        for query, expected in cases.items():
            with self.subTest(query):
                response = self.client.get("/books/" + query)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.data["count"], QuerySet.count(expected))
                self.assertEqual(len(response.data["results"]), min(10, QuerySet.count(expected)))
        response = self.client.get("/books/?page=4")
        self.assertEqual(response.data["count"], 40)
        self.assertEqual(len(response.data["results"]), 10)
        self.assertIsNone(response.data["next"])
        self.assertEqual(self.client.get("/books/?page=5").status_code, 404)

    def test_limit_offset_pagination_counts_the_filtered_queryset(self):
        response = self.client.get("/books-by-offset/?limit=7&offset=30&min_pages=300")
        expected = QuerySet.count(Book.objects.filter(pages__gte=300))
        self.assertEqual(response.data["count"], expected)
        self.assertEqual(len(response.data["results"]), expected - 30)
        self.assertIsNone(response.data["next"])

    def test_the_count_comes_from_fast_count(self):
        # With every count cached, a row added after the first page view is
        # not in the count of the second: it was served from the cache.
        # (Django's count() would see it.)
        cache_every_count()
        for url, min_pages in (("/books/", 1000), ("/books-by-offset/", 1100)):
            with self.subTest(url):
                url += "?min_pages=%d" % min_pages
                first = self.client.get(url).data["count"]
                add_book()
                self.assertEqual(self.client.get(url).data["count"], first)
                self.assertEqual(QuerySet.count(Book.objects.filter(pages__gte=min_pages)), first + 1)


class DjangoPaginator(TestCase):
    @classmethod
    def setUpTestData(cls):
        create_library()

    def test_count_and_pages(self):
        books = Book.objects.filter(published=True).order_by("id")
        paginator = FastCountPaginator(books, 7)
        self.assertEqual(paginator.count, QuerySet.count(books))
        self.assertEqual(paginator.num_pages, -(-QuerySet.count(books) // 7))
        self.assertEqual(list(paginator.page(2).object_list), list(books[7:14]))

    def test_served_from_the_cache(self):
        cache_every_count()
        books = Book.objects.filter(pages__gte=1000).order_by("id")
        first = FastCountPaginator(books, 5).count
        add_book()
        self.assertEqual(FastCountPaginator(books, 5).count, first)

    def test_lists_are_counted_by_len(self):
        self.assertEqual(FastCountPaginator(list(range(23)), 5).count, 23)
