"""The SQL of plain filtered querysets is kept per shape: what count() then
sends is exactly what Django's compiler would have written, with the new
queryset's values."""

import datetime
import decimal
from unittest import mock

from django.db import connection, connections
from django.db.models import F, Q, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.test import TestCase

from fast_count_django import shapes
from fast_count_django.statement import count_sql, counted_query

from .data import EVIL, create_library
from .library.models import Author, Book, Novel, PublishedBook
from .test_counts import CASES

UTC = datetime.timezone.utc
D = decimal.Decimal


def compiled_by_django(queryset):
    return comparable(counted_query(queryset.query).get_compiler(connection=connections[queryset.db]).as_sql())


def comparable(compiled):
    """SQL and parameters; psycopg2's adapters (Binary, Inet) as what they wrap."""
    sql, params = compiled
    return sql, tuple((type(p), repr(getattr(p, "adapted", getattr(p, "addr", p)))) for p in params)


def kept(queryset):
    return comparable(count_sql(queryset, connection))


# Querysets of one shape, with other values each time (name, factory of value).
SHAPES = [
    ("five filters", lambda v: Book.objects.filter(
        published=v % 2 == 0, pages__gt=100 + v, price__lt=D("500") - v,
        created_at__gte=datetime.datetime(2024, 1 + v % 6, 1, tzinfo=UTC), title__startswith="book %d" % (v % 4))),
    ("in lists of other lengths and duplicates", lambda v: Book.objects.filter(
        pages__in=[50 + 37 * i for i in range(v % 5 + 1)] + [50, None])),
    ("booleans in and out of the SQL", lambda v: Book.objects.filter(published=bool(v % 2)).exclude(
        price__isnull=bool(v % 3))),
    ("or, not, joins", lambda v: Book.objects.filter(
        Q(author__country=["fr", "de", "it"][v % 3]) | ~Q(pages__lte=300 + v), title__icontains=EVIL[: v % 5])),
    ("related manager", lambda v: Author.objects.get(name="author %d" % (v % 5)).books.filter(pages__gt=v)),
    ("inheritance and proxy", lambda v: Novel.objects.filter(series="saga %d" % (v % 3), pages__lt=2000 - v)),
    ("proxy manager", lambda v: PublishedBook.objects.filter(pages__range=(v, v + 500))),
    ("foreign keys", lambda v: Book.objects.filter(
        author__in=list(Author.objects.all()[: v % 4 + 1]), author__gte=v % 3).exclude(
        author=Author.objects.get(name="author %d" % (v % 5)))),
    ("iexact, regex, uuid", lambda v: Book.objects.filter(
        title__iexact="BOOK %02d" % v, title__regex="^b", isbn__isnull=bool(v % 2))),
]


class KeptPerShape(TestCase):
    @classmethod
    def setUpTestData(cls):
        create_library()

    def setUp(self):
        shapes.forget()

    def test_the_kept_sql_is_what_django_writes(self):
        # Every queryset of the counting tests: the statement count() gets,
        # first and again from the kept shape, is Django's own.
        for name, make in CASES + [(name, lambda make=make: make(3)) for name, make in SHAPES]:
            with self.subTest(name):
                try:
                    expected = compiled_by_django(make())
                except Exception as error:   # EmptyResultSet: so must count_sql
                    with self.assertRaises(type(error)):
                        count_sql(make(), connection)
                    continue
                self.assertEqual(kept(make()), expected)
                self.assertEqual(kept(make()), expected)

    def test_other_values_same_shape(self):
        for name, make in SHAPES:
            with self.subTest(name):
                for value in range(12):
                    queryset = make(value)
                    try:
                        expected = compiled_by_django(queryset)
                    except Exception as error:
                        with self.assertRaises(type(error)):
                            count_sql(queryset, connection)
                        continue
                    self.assertEqual(kept(queryset), expected, value)
                    self.assertEqual(queryset.count(), QuerySet.count(queryset), value)
                    key = shapes.key_and_params(queryset.query, connection)[0]
                    self.assertTrue(shapes.lookup(key), "kept, not compiled every time")

    def test_django_compiles_a_shape_once(self):
        make = SHAPES[0][1]
        make(0).count()
        with mock.patch.object(SQLCompiler, "as_sql", autospec=True,
                               side_effect=SQLCompiler.as_sql) as as_sql:
            for value in range(2, 12, 2):   # (odd values are another shape: published=False)
                self.assertEqual(make(value).count(), QuerySet.count(make(value)))
        # Only Django's own counts compiled.
        self.assertEqual(as_sql.call_count, 5)

    def test_related_managers_and_foreign_keys_are_shapes(self):
        for queryset in (Author.objects.first().books.all(), Book.objects.filter(author__in=[1, 2]),
                         Book.objects.filter(author__isnull=False)):
            with self.subTest(str(queryset.query)):
                self.assertIsNotNone(shapes.key_and_params(queryset.query, connection))

    def test_other_querysets_are_compiled_every_time(self):
        for queryset in (Book.objects.filter(pages__gt=1).annotate(n=F("pages")),
                         Book.objects.filter(pages__gt=1)[:5],
                         Book.objects.filter(pages__in=Book.objects.filter(pages__lt=300).values("pages")),
                         Book.objects.extra(where=["pages > %s"], params=[3]),
                         Book.objects.filter(published_on__year=2003),
                         Book.objects.filter(metadata__genre="poetry")):
            with self.subTest(str(queryset.query)):
                self.assertIsNone(shapes.key_and_params(queryset.query, connection))
