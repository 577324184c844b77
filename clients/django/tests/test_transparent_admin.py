"""Transparent mode under Django's own admin: the change list of a model
with a plain models.Manager (no fast_count code anywhere in its path) shows
counts answered from exact registrations written as a DBA would write them,
``SELECT * FROM library_book [WHERE …]``: one key per row set, so they serve
the ORM's ``SELECT COUNT(*) AS "__count" FROM "library_book" …``.

TransactionTestCase: the registrations are committed, as in production."""

from django.contrib.auth.models import User
from django.db import connection
from django.test import TransactionTestCase
from django.test.utils import CaptureQueriesContext

from .data import create_library
from .library.models import PlainBook
from .transparent import count_statements, explain, hits, register, unregister

ALL = "SELECT * FROM library_book"
PUBLISHED = "SELECT * FROM library_book WHERE published"
CHANGELIST = "/admin/library/plainbook/"


def books(**filters):
    """How many books there are, from the rows themselves (never a count)."""
    return len([book for book in PlainBook.objects.all()
                if all(getattr(book, name) == value for name, value in filters.items())])


class AdminChangeList(TransactionTestCase):
    def setUp(self):
        create_library()
        User.objects.create_superuser("admin", "admin@example.com", "secret")
        self.assertTrue(self.client.login(username="admin", password="secret"))
        self.all = register(ALL)
        self.published = register(PUBLISHED)
        self.addCleanup(unregister, ALL)
        self.addCleanup(unregister, PUBLISHED)

    def changelist(self, query=""):
        """The change list page, its ChangeList and the counts it sent."""
        with CaptureQueriesContext(connection) as captured:
            response = self.client.get(CHANGELIST + query)
        self.assertEqual(response.status_code, 200)
        return response, response.context["cl"], count_statements(captured)

    def assert_answered_from_the_cache(self, statements):
        for sql in statements:
            plan = explain(sql)
            self.assertIn("Custom Scan (FastCount)", plan, sql)
            self.assertIn("Cached Count: hit (exact)", plan, sql)

    def test_the_change_list_counts_come_from_the_registration(self):
        total = books()
        self.assertEqual(total, 40)
        before = hits(self.all)
        response, cl, statements = self.changelist()
        self.assertEqual((cl.result_count, cl.full_result_count), (total, total))
        self.assertContains(response, "%d books" % total)
        # The paginator's count and the admin's full count: both the ORM's
        # plain count of the table, both served.
        self.assertEqual(statements, ['SELECT COUNT(*) AS "__count" FROM "library_book"'] * 2)
        self.assertEqual(hits(self.all), before + 2)
        self.assert_answered_from_the_cache(statements)

    def test_a_list_filter_count_comes_from_its_registration(self):
        total, published = books(), books(published=True)
        self.assertEqual((total, published), (40, 26))
        before = hits(self.all), hits(self.published)
        response, cl, statements = self.changelist("?published__exact=1")
        self.assertEqual((cl.result_count, cl.full_result_count), (published, total))
        self.assertContains(response, "%d books" % published)
        self.assertContains(response, "%d results" % published)
        self.assertContains(response, "%d total" % total)
        self.assertEqual(statements, ['SELECT COUNT(*) AS "__count" FROM "library_book"'
                                      ' WHERE "library_book"."published"',
                                      'SELECT COUNT(*) AS "__count" FROM "library_book"'])
        self.assertEqual((hits(self.all), hits(self.published)), (before[0] + 1, before[1] + 1))
        self.assert_answered_from_the_cache(statements)

    def test_writes_show_at_once(self):
        self.changelist("?published__exact=1")
        PlainBook.objects.filter(published=True).order_by("id").first().delete()
        before = hits(self.all), hits(self.published)
        response, cl, _ = self.changelist("?published__exact=1")
        self.assertEqual((cl.result_count, cl.full_result_count), (25, 39))
        self.assertContains(response, "25 books")
        self.assertEqual((hits(self.all), hits(self.published)), (before[0] + 1, before[1] + 1))

    def test_an_unregistered_filter_is_counted_as_written(self):
        unpublished = books(published=False)
        before = hits(self.all), hits(self.published)
        response, cl, statements = self.changelist("?published__exact=0")
        self.assertEqual((cl.result_count, cl.full_result_count), (unpublished, 40))
        self.assertContains(response, "%d books" % unpublished)
        self.assertEqual((hits(self.all), hits(self.published)), (before[0] + 1, before[1]))
        self.assertIn("Cached Count: miss", explain(statements[0]))
