"""Transparent mode from a periodic registration, with
``fast_count.transparent = registered`` set where a project sets it: in the
connection's options (settings: DATABASES["registered"]["OPTIONS"], the same
database as "default"). The reads of LaggingBook go there (the router);
PlainBook's stay on "default", where the setting is the default, exact, and
the periodic count is not used. No fast_count code in either path.

TransactionTestCase: the registration is committed and the worker counts it."""

import datetime

from django.contrib.auth.models import User
from django.db import connections
from django.test import TransactionTestCase
from django.test.utils import CaptureQueriesContext

from .data import create_library
from .library.models import Author, LaggingBook, PlainBook, Tag
from .transparent import count_statements, entry, explain, hits, register, unregister

ALL = "SELECT * FROM library_book"
PUBLISHED = "SELECT * FROM library_book WHERE published"


def setting(using):
    with connections[using].cursor() as cursor:
        cursor.execute("SHOW fast_count.transparent")
        return cursor.fetchone()[0]


class RegisteredThroughConnectionOptions(TransactionTestCase):
    databases = {"default", "registered"}

    def setUp(self):
        create_library()
        # Re-counted hourly: within a test the count changes only if a hit
        # was not served from it.
        self.all = register(ALL, "periodic", "1 hour")
        self.addCleanup(unregister, ALL)
        self.published = register(PUBLISHED, "periodic", "1 hour")
        self.addCleanup(unregister, PUBLISHED)
        self.assertEqual((entry(self.all)[1], entry(self.published)[1]), (40, 26))

    def test_the_options_set_the_mode(self):
        self.assertEqual(setting("registered"), "registered")
        self.assertEqual(setting("default"), "exact")

    def test_count(self):
        before = hits(self.published)
        self.assertEqual(PlainBook.objects.filter(published=True).count(), 26)
        self.assertEqual(hits(self.published), before)  # exact: a periodic count is not used
        self.assertEqual(LaggingBook.objects.filter(published=True).count(), 26)
        self.assertEqual(hits(self.published), before + 1)
        with CaptureQueriesContext(connections["registered"]) as captured:
            LaggingBook.objects.filter(published=True).count()
        statement, = count_statements(captured)
        self.assertIn("Cached Count: hit (registered)", explain(statement, "registered"))
        self.assertIn("Cached Count: miss", explain(statement, "default"))

    def test_the_registered_count_is_served_until_it_is_refreshed(self):
        # What "registered" means: a count as of the last refresh, within
        # max_stale and max_age; "exact" sees the committed write at once.
        LaggingBook.objects.create(title="new", author=Author.objects.first(), published=True, pages=10,
                                   created_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
        before = hits(self.published)
        self.assertEqual(PlainBook.objects.filter(published=True).count(), 27)
        self.assertEqual(LaggingBook.objects.filter(published=True).count(), 26)
        self.assertEqual(hits(self.published), before + 1)

    def test_admin_change_list(self):
        User.objects.create_superuser("admin", "admin@example.com", "secret")
        self.assertTrue(self.client.login(username="admin", password="secret"))
        for model, served in [("plainbook", 0), ("laggingbook", 1)]:
            with self.subTest(model):
                before = hits(self.all), hits(self.published)
                response = self.client.get("/admin/library/%s/?published__exact=1" % model)
                self.assertEqual(response.status_code, 200)
                cl = response.context["cl"]
                self.assertEqual((cl.result_count, cl.full_result_count), (26, 40))
                self.assertContains(response, "26 books")
                self.assertContains(response, "40 total")
                self.assertEqual((hits(self.all), hits(self.published)), (before[0] + served, before[1] + served))

    def test_admin_change_list_with_a_many_to_many_filter(self):
        # The admin filters on tags with an EXISTS subquery (no duplicates,
        # no DISTINCT): two tables, so no exact registration can give it, a
        # periodic one can. Registered as Django writes the row set, which
        # is one key with the count the change list sends.
        User.objects.create_superuser("admin", "admin@example.com", "secret")
        self.assertTrue(self.client.login(username="admin", password="secret"))
        tag = Tag.objects.get(name="history").id
        tagged = len([book for book in PlainBook.objects.all() if tag in {t.id for t in book.tags.all()}])
        self.assertEqual(tagged, 24)
        sql = ('SELECT * FROM "library_book" WHERE EXISTS(SELECT (1) AS "a" FROM "library_book" U0'
               ' INNER JOIN "library_book_tags" U1 ON (U0."id" = U1."book_id")'
               ' WHERE (U1."tag_id" = %d AND U0."id" = "library_book"."id") LIMIT 1)' % tag)
        key = register(sql, "periodic", "1 hour")
        self.addCleanup(unregister, sql)
        for model, served in [("plainbook", 0), ("laggingbook", 1)]:
            with self.subTest(model):
                before = hits(key)
                with CaptureQueriesContext(connections["default"]) as on_default, \
                        CaptureQueriesContext(connections["registered"]) as on_registered:
                    response = self.client.get("/admin/library/%s/?tags__id__exact=%d" % (model, tag))
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.context["cl"].result_count, tagged)
                self.assertContains(response, "%d books" % tagged)
                self.assertEqual(hits(key), before + served)
                statement = count_statements(on_registered if served else on_default)[0]
                self.assertEqual(statement, sql.replace("SELECT *", 'SELECT COUNT(*) AS "__count"', 1))
        self.assertIn("Cached Count: hit (registered)", explain(statement, "registered"))
        self.assertIn("Cached Count: miss", explain(statement, "default"))

    def test_drf_pagination(self):
        for url, served in [("/plain-books/", 0), ("/plain-books-by-offset/", 0),
                            ("/lagging-books/", 1), ("/lagging-books-by-offset/", 1)]:
            with self.subTest(url):
                before = hits(self.published)
                response = self.client.get(url + "?published=1")
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.json()["count"], 26)
                self.assertEqual(hits(self.published), before + served)
