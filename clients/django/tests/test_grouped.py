"""Grouped exact counts (issue 12): writer.books.count() on Django's related
manager is answered exactly from ONE grouped registration of the table
(group_by the foreign key), with no counter column on the parent and no
fast_count code in the models (Writer and Manuscript have Django's plain
managers: the count is Django's own SELECT COUNT(*), intercepted by
transparent mode). Every count is checked against the rows themselves, and
against the entry's hits, so that a count Django made by itself cannot pass.

TransactionTestCase: the registration is committed, as in production."""


from django.db import connection, transaction
from django.db.models import Count
from django.test import TransactionTestCase

from .data import create_library
from .library.models import Author, Book, Manuscript, Writer

QUERY = "SELECT * FROM library_manuscript"


def register(test, query, column):
    """Registers query grouped by column until the end of test (other
    tests count the entries over the same tables)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT fast_count._exact_settle(fast_count_register(%s, mode => 'exact',"
                       " group_by => ARRAY[%s]))", [query, column])
        state = cursor.fetchone()[0]
    test.addCleanup(unregister, query, column)
    return state


def unregister(query, column):
    with connection.cursor() as cursor:
        cursor.execute("SELECT fast_count_unregister(%s, group_by => ARRAY[%s])", [query, column])


def hits(query=QUERY):
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(hits), 0) FROM fast_count_entries WHERE query = %s", [query])
        return cursor.fetchone()[0]


def scans(table):
    """Scans of table by this transaction so far (call inside atomic()): a
    count answered from the groups reads no row of the table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables"
                       " WHERE relid = %s::regclass", [table])
        return cursor.fetchone()[0]


def rows_of(writer):
    """The writer's books, counted in Python from the rows (no count(*))."""
    return len(list(Manuscript.objects.filter(writer=writer).values_list("id", flat=True)))


class GroupedRelatedManager(TransactionTestCase):
    def setUp(self):
        self.alice = Writer.objects.create(name="alice")
        self.bob = Writer.objects.create(name="bob")
        self.carol = Writer.objects.create(name="carol")  # no books
        for i in range(5):
            Manuscript.objects.create(writer=self.alice, title="alice %d" % i)
        Manuscript.objects.create(writer=self.bob, title="bob 0")
        Manuscript.objects.create(writer=None, title="anonymous")
        self.assertEqual(register(self, QUERY, "writer_id"), "ready")

    def assert_exact(self, *writers):
        """Each writer's books.count() is its number of rows, and was served
        by the grouped registration (one hit per count)."""
        for writer in writers:
            before = hits()
            self.assertEqual(writer.books.count(), rows_of(writer), writer.name)
            self.assertEqual(hits(), before + 1, "%s.books.count() was not intercepted" % writer.name)

    def test_related_manager_count_is_answered_from_the_groups(self):
        self.assertEqual([self.alice.books.count(), self.bob.books.count(), self.carol.books.count()], [5, 1, 0])
        self.assert_exact(self.alice, self.bob, self.carol)
        # The same count reached from the other side, and by a fresh instance.
        self.assert_exact(Writer.objects.get(name="alice"))
        before = hits()
        self.assertEqual(Manuscript.objects.filter(writer=self.alice).count(), 5)
        self.assertEqual(Manuscript.objects.filter(writer_id=self.bob.id).count(), 1)
        self.assertEqual(hits(), before + 2)

    def test_in_list_and_null_group(self):
        self.assertEqual(Manuscript.objects.filter(writer__in=[self.alice, self.bob, self.carol]).count(), 6)
        before = hits()
        self.assertEqual(Manuscript.objects.filter(writer__isnull=True).count(), 1)
        self.assertEqual(hits(), before + 1)

    # Django writes "writer_id" IN (1, 2, 3): integer literals against a
    # bigint column, which the parser coerces one by one with a call of the
    # int8(integer) cast; the group matcher folds such built-in casts.
    def test_in_list_on_a_bigint_key_is_served(self):
        before = hits()
        self.assertEqual(Manuscript.objects.filter(writer__in=[self.alice, self.bob]).count(), 6)
        self.assertEqual(hits(), before + 1)

    def test_writes_outside_a_transaction_are_counted_at_once(self):
        Manuscript.objects.create(writer=self.carol, title="carol 0")
        self.assert_exact(self.alice, self.bob, self.carol)
        self.bob.books.get().delete()
        self.assert_exact(self.bob)
        self.assertEqual(self.bob.books.count(), 0)
        # Moving a book to another writer leaves one group and enters the other.
        book = self.alice.books.first()
        book.writer = self.carol
        book.save()
        self.assert_exact(self.alice, self.carol)
        self.assertEqual([self.alice.books.count(), self.carol.books.count()], [4, 2])
        # A queryset update moving several, and the NULL group.
        Manuscript.objects.filter(writer=self.alice).update(writer=None)
        self.assert_exact(self.alice, self.carol)
        self.assertEqual(Manuscript.objects.filter(writer__isnull=True).count(), 5)
        # Through the related manager itself.
        self.bob.books.create(title="bob 1")
        self.carol.books.add(Manuscript.objects.create(writer=None, title="stray"))
        self.assert_exact(self.alice, self.bob, self.carol)
        self.assertEqual(self.carol.books.count(), 3)

    def test_writes_inside_atomic_blocks(self):
        with transaction.atomic():
            Manuscript.objects.create(writer=self.carol, title="carol 0")
            book = self.alice.books.first()
            book.writer = self.bob
            book.save()
            # The transaction's own uncommitted writes.
            self.assert_exact(self.alice, self.bob, self.carol)
            self.assertEqual([self.alice.books.count(), self.bob.books.count(), self.carol.books.count()],
                             [4, 2, 1])
            # A savepoint rolled back counts for nothing.
            try:
                with transaction.atomic():
                    self.alice.books.all().delete()
                    Manuscript.objects.create(writer=self.carol, title="carol 1")
                    self.assert_exact(self.alice, self.carol)
                    self.assertEqual(self.alice.books.count(), 0)
                    raise RuntimeError("roll back the savepoint")
            except RuntimeError:
                pass
            self.assert_exact(self.alice, self.bob, self.carol)
            self.assertEqual([self.alice.books.count(), self.carol.books.count()], [4, 1])
        self.assert_exact(self.alice, self.bob, self.carol)
        self.assertEqual([self.alice.books.count(), self.bob.books.count(), self.carol.books.count()], [4, 2, 1])
        # A rolled-back transaction counts for nothing.
        try:
            with transaction.atomic():
                self.bob.books.all().delete()
                self.assert_exact(self.bob)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        self.assert_exact(self.alice, self.bob, self.carol)
        self.assertEqual(self.bob.books.count(), 2)

    def test_deleting_the_parent_empties_its_group(self):
        self.alice.delete()  # Django's collector deletes her books first
        with connection.cursor() as cursor:
            cursor.execute("SELECT key[1], count FROM fast_count_groups(%s) ORDER BY 1", [QUERY])
            groups = cursor.fetchall()
        self.assertEqual(groups, [(str(self.bob.id), 1), (None, 1)])
        self.assert_exact(self.bob, self.carol)

    def test_groups_equal_djangos_group_by(self):
        Manuscript.objects.create(writer=self.carol, title="carol 0")
        expected = {(str(row["writer"]) if row["writer"] is not None else None, row["n"])
                    for row in Manuscript.objects.values("writer").annotate(n=Count("id")).order_by()}
        with connection.cursor() as cursor:
            cursor.execute("SELECT key[1], count FROM fast_count_groups(%s)", [QUERY])
            self.assertEqual(set(cursor.fetchall()), expected)


class GroupedFastCountManager(TransactionTestCase):
    """Author.books goes through FastCountManager (fast_count() of the
    queryset's SQL, the foreign key as a $1::integer parameter) on an int
    column: the same grouped registration answers it. fast_count() reads of
    exact counts add no hits, so "answered" is checked by the table's scans
    in the transaction (count_info() says "live" for them: it looks the
    entry up by the statement's own text, and a group has none)."""

    query = "SELECT * FROM library_book"

    def setUp(self):
        create_library()
        self.assertEqual(register(self, self.query, "author_id"), "ready")

    def test_author_books_count(self):
        for author in Author.objects.order_by("id"):
            expected = len(list(Book._base_manager.filter(author=author).values_list("id", flat=True)))
            with transaction.atomic():
                before = scans("library_book")
                self.assertEqual(author.books.count(), expected, author.name)
                self.assertEqual(scans("library_book"), before, "%s.books.count() read the table" % author.name)
            # Django's own count() on the base manager: transparent mode.
            before = hits(self.query)
            self.assertEqual(Book._base_manager.filter(author=author).count(), expected)
            self.assertEqual(hits(self.query), before + 1, author.name)
        authors = list(Author.objects.order_by("id"))
        with transaction.atomic():
            before = scans("library_book")
            self.assertEqual(Book.objects.filter(author__in=authors[:3]).count(), 24)
            self.assertEqual(scans("library_book"), before)
        # A book moved to the author who had none, inside and outside a transaction.
        book = authors[0].books.first()
        with transaction.atomic():
            book.author = authors[-1]
            book.save()
            self.assertEqual([authors[0].books.count(), authors[-1].books.count()], [7, 1])
        self.assertEqual([authors[0].books.count(), authors[-1].books.count()], [7, 1])
        self.assertEqual(Book._base_manager.filter(author=authors[0]).count(),
                         len(list(Book._base_manager.filter(author=authors[0]).values_list("id", flat=True))))
