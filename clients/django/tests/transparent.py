"""What the transparent-mode tests share: registrations written as a DBA
would write them (plain SQL, not the package), each entry's hits, and what
EXPLAIN ANALYZE says about the statements Django really sent."""

import time

from django.db import connection, connections

WAIT = 30  # seconds; the worker counts a registration right after it commits


def register(sql, mode="exact", refresh_every=None):
    """Registers ``sql`` (committed: the test is a TransactionTestCase) and
    returns its key once its count is there: an exact one settled, a
    periodic one counted by the worker."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT fast_count_register(%s, %s::interval, NULL, %s)", [sql, refresh_every, mode])
        key = cursor.fetchone()[0]
        if mode == "exact":
            cursor.execute("SELECT fast_count._exact_settle(%s)", [key])
            return key
        deadline = time.monotonic() + WAIT
        while True:
            cursor.execute("SELECT count FROM fast_count_entries WHERE key = %s", [key])
            row = cursor.fetchone()
            if row is not None and row[0] is not None:
                return key
            if time.monotonic() > deadline:
                raise AssertionError("the worker did not count %r within %ds" % (sql, WAIT))
            time.sleep(0.1)


def unregister(sql):
    with connection.cursor() as cursor:
        cursor.execute("SELECT fast_count_unregister(%s)", [sql])


def entry(key):
    """(hits, count) of the entry ``key``."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT hits, count FROM fast_count_entries WHERE key = %s", [key])
        row = cursor.fetchone()
    assert row is not None, "no entry %s" % key
    return row


def hits(key):
    return entry(key)[0]


def count_statements(captured):
    """The counts among the statements of a CaptureQueriesContext, as sent."""
    return [query["sql"] for query in captured.captured_queries if query["sql"].startswith("SELECT COUNT(*)")]


def explain(sql, using="default"):
    """EXPLAIN ANALYZE of a statement as Django sent it (which is itself one
    more execution: one more hit when it is answered from the cache)."""
    with connections[using].cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())
