"""Values travel as parameters, never inside the query text: values that look
like SQL or like placeholders are counted like any other."""

from django.db import connection
from django.db.models import Count, QuerySet, Value
from django.db.models.functions import Concat
from django.test import TestCase

from fast_count_django import count_statement, fast_count

from .data import EVIL, create_library
from .library.models import Book

NASTY = [
    EVIL,
    "%s and %% and $1",
    "$1",
    "%s",
    "' OR 1=1 --",
    "*/ SELECT 1 /*",
    "$$ x $$",
    "E'\\\\'",
    "\\",
]


class ParametersAreNotInterpolated(TestCase):
    @classmethod
    def setUpTestData(cls):
        create_library()

    def test_sql_looking_values_count_right_and_stay_out_of_the_query_text(self):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL fast_count.cache_larger_than = 0")
        filters = [
            lambda value: Book.objects.filter(title=value),
            lambda value: Book.objects.filter(title__contains=value),
            lambda value: Book.objects.filter(title__icontains=value).exclude(author__name=value),
            lambda value: Book.objects.filter(metadata__genre=value),
            lambda value: Book.objects.filter(keywords__contains=[value]),
        ]
        for value in NASTY:
            for make in filters:
                queryset = make(value)
                with self.subTest(value=value, where=str(queryset.query.where)):
                    statement = count_statement(queryset)
                    # The text does not depend on the value at all...
                    self.assertEqual(statement.sql, count_statement(make("harmless")).sql)
                    # ...which travels as a parameter (escaped for LIKE or JSON).
                    self.assertNotEqual(statement.params, count_statement(make("harmless")).params)
                    self.assertEqual(fast_count(queryset, strict=True), QuerySet.count(queryset))
        # Values that Django repeats (GROUP BY) or that psycopg2 writes as a
        # tuple are parameters too, never part of the text.
        repeated = [
            lambda value: Book.objects.values(label=Concat("title", Value(value))).annotate(n=Count("id")),
            lambda value: Book.objects.extra(where=["title IN %s"], params=[(value, "book 12")]),
        ]
        for value in NASTY:
            for make in repeated:
                queryset = make(value)
                with self.subTest(value=value, query="repeated or tuple"):
                    self.assertEqual(fast_count(queryset, strict=True), QuerySet.count(queryset))
                    statement = count_statement(queryset)
                    self.assertEqual(statement.sql, count_statement(make("harmless")).sql)
                    self.assertIn(value, statement.params)
        self.assertEqual(Book.objects.filter(title=EVIL).count(), 1)
        self.assertEqual(Book.objects.filter(title__contains="%s and %% and $1").count(), 1)
        # The table is still there, and the cache holds the values as parameters.
        self.assertEqual(QuerySet.count(Book.objects.all()), 40)
        with connection.cursor() as cursor:
            cursor.execute("SELECT query, params FROM fast_count_entries WHERE %s = ANY (params)", [EVIL])
            entries = cursor.fetchall()
        self.assertTrue(entries)
        for query, _ in entries:
            self.assertNotIn("DROP", query)
