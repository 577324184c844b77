"""What a cached count() costs from Python, next to a raw ``select 1``
through the same Django connection, and how much of it is Django compiling
the queryset's SQL. Prints figures, asserts nothing.

Run it on a throwaway cluster (as the tests are):

    PG_CONFIG=/path/to/pg_config bash clients/django/run_tests.sh --bench

or against any database with the extension, with the tests' settings
(FAST_COUNT_TEST_HOST / _PORT / _USER, see tests/settings.py):

    cd clients/django && python3 bench_count.py [rounds]

It creates (and drops) a test database of its own.
"""

import datetime
import decimal
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402

django.setup()

from django.db import DEFAULT_DB_ALIAS, connection, connections  # noqa: E402
from django.db.models import QuerySet  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from fast_count_django import fast_count  # noqa: E402
from fast_count_django import shapes  # noqa: E402
from fast_count_django.statement import count_sql, counted_query, prepare  # noqa: E402

UTC = datetime.timezone.utc
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3000


def p50s_us(figures, rounds=ROUNDS):
    """Median time, in microseconds, of each ``function(setup())`` (setup
    not timed) or ``function()``. The functions take turns, round after
    round, so that a busy machine slows them all alike."""
    samples = [[] for _ in figures]
    for round_ in range(rounds + 200):
        for i, (_, function, setup) in enumerate(figures):
            argument = setup() if setup else None
            start = time.perf_counter_ns()
            function(argument) if setup else function()
            elapsed = time.perf_counter_ns() - start
            if round_ >= 200:   # warmed up
                samples[i].append(elapsed)
    return [statistics.median(times) / 1000.0 for times in samples]


def main():
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def five_filters():
    from tests.library.models import Book
    return Book.objects.filter(
        published=True, pages__gt=100, price__lt=decimal.Decimal("500"),
        created_at__gte=datetime.datetime(2024, 1, 1, tzinfo=UTC), title__startswith="book")


def run():
    from tests.library.models import Author, Book
    author = Author.objects.create(name="a", country="fr")
    Book.objects.bulk_create([
        Book(title="book %d" % i, author=author, published=i % 3 != 0, pages=50 + i % 900,
             price=decimal.Decimal(i % 700), created_at=datetime.datetime(2024, 1 + i % 12, 1, tzinfo=UTC))
        for i in range(20000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE library_book")
        # Keep every count, so that the ones measured are served from the cache.
        cursor.execute("SET fast_count.cache_larger_than = 0")
    wrapper = connections[DEFAULT_DB_ALIAS]   # what `connection` stands for
    queryset = five_filters()
    expected = QuerySet.count(queryset)
    assert fast_count(queryset, strict=True) == expected  # counted once, and kept
    sql, values = queryset.query.get_compiler(connection=wrapper).as_sql()
    sql, values = count_sql(queryset, wrapper)
    prepared = prepare(wrapper, sql, values)
    statement = next(prepared.statements())
    call = "SELECT public.fast_count(%s, %s::text[])"

    def select_1():
        with connection.cursor() as cursor:
            cursor.execute("select 1")
            cursor.fetchone()

    def select_1_wrapper():
        with wrapper.cursor() as cursor:
            cursor.execute("select 1")
            cursor.fetchone()

    def count_same_queryset():
        queryset.count()

    def count_built_anew(built):
        built.count()

    def count_uncached_shape():
        shapes.ENABLED = False
        try:
            queryset.count()
        finally:
            shapes.ENABLED = True

    def compile_only():
        counted_query(queryset.query).get_compiler(connection=wrapper).as_sql()

    def shape_only():
        shapes.key_and_params(queryset.query, wrapper)

    def prepare_only():
        next(prepare(wrapper, sql, values).statements())

    def call_only():
        with wrapper.cursor() as cursor:
            cursor.execute(call, [statement.sql, list(statement.params)])
            cursor.fetchone()

    def plain_count():
        QuerySet.count(queryset)

    with_options = Book.cached.filter(
        published=True, pages__gt=100, price__lt=decimal.Decimal("500"),
        created_at__gte=datetime.datetime(2024, 1, 1, tzinfo=UTC), title__startswith="book")

    def count_with_manager_options():
        with_options.count()

    figures = [
        ("select 1: connection.cursor().execute()", select_1, None),
        ("select 1: connections['default'].cursor().execute()", select_1_wrapper, None),
        ("cached qs.count(), five filters", count_same_queryset, None),
        ("cached count() of a queryset built anew (building not timed)", count_built_anew, five_filters),
        ("  of which: shape key and values (shapes.py)", shape_only, None),
        ("  of which: parameters to text, $n numbering", prepare_only, None),
        ("  of which: SELECT fast_count(...) through Django's cursor", call_only, None),
        ("cached qs.count() without the shape cache", count_uncached_shape, None),
        ("  of which: Django compiling the count's SQL", compile_only, None),
        ("cached count() with the manager's options (set_config)", count_with_manager_options, None),
        ("Django's own count() of it (%d rows counted)" % expected, plain_count, None),
    ]
    results = list(zip([name for name, _, _ in figures], p50s_us(figures)))
    base, base_wrapper = results[0][1], results[1][1]
    print("p50 over %d rounds, autocommit, PostgreSQL %s, Django %s" % (
        ROUNDS, wrapper.pg_version, django.get_version()))
    print("%-64s %9s  %8s %8s" % ("", "us", "/select1", "/select1'"))
    for name, us in results:
        print("%-64s %9.1f  %7.2fx %7.2fx" % (name, us, us / base, us / base_wrapper))
    uncached = results[7][1]
    print("without the shape cache, compiling is %.0f%% of a cached count()"
          % (100 * results[8][1] / uncached))


if __name__ == "__main__":
    main()
