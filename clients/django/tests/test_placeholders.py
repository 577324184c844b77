"""Django's %s placeholders become $1..$n, as psycopg2 would fill them."""

from django.test import SimpleTestCase

from fast_count_django.placeholders import (MERGE_ALL, MERGE_TYPED, NO_MERGE, PlaceholderError, Slot,
                                           number, numbered)


class Numbered(SimpleTestCase):
    def test_placeholders_are_numbered_in_order_with_their_casts(self):
        self.assertEqual(
            numbered("SELECT * FROM t WHERE a = %s AND b IN (%s, %s) AND c > %s",
                     [None, "integer", "integer", "date"]),
            "SELECT * FROM t WHERE a = $1 AND b IN ($2::integer, $3::integer) AND c > $4::date")

    def test_double_percent_is_a_literal_percent(self):
        # psycopg2 reads "%%s" as a literal "%s", not as a placeholder.
        self.assertEqual(numbered("SELECT '100%%', '%%s' LIKE %s", [None]),
                         "SELECT '100%', '%s' LIKE $1")
        self.assertEqual(numbered("SELECT 1 %% 2", []), "SELECT 1 % 2")

    def test_no_parameters(self):
        self.assertEqual(numbered('SELECT "t"."id" FROM "t"', []), 'SELECT "t"."id" FROM "t"')

    def test_a_placeholder_next_to_a_word_stays_a_token_of_its_own(self):
        # "x$1" would be an identifier, "$1y" a syntax error.
        self.assertEqual(numbered("SELECT x%s, %sy, (%s)", [None, "integer", None]),
                         "SELECT x $1, $2::integer y, ($3)")

    def test_count_mismatch_and_bad_directives_are_refused(self):
        for sql, casts in [("SELECT %s", []), ("SELECT 1", [None]), ("SELECT %s, %s", [None]),
                           ("SELECT %d", [None]), ("SELECT %(name)s", [None]), ("SELECT 5 %", [])]:
            with self.subTest(sql):
                with self.assertRaises(PlaceholderError):
                    numbered(sql, casts)


class SharedNumbers(SimpleTestCase):
    def test_equal_typed_values_share_a_number(self):
        slots = [Slot("100", "integer"), Slot("x", None), Slot("100", "integer"), Slot("100", "bigint")]
        self.assertEqual(
            number("SELECT a / %s, b || %s GROUP BY a / %s, c / %s", slots),
            ("SELECT a / $1::integer, b || $2 GROUP BY a / $1::integer, c / $3::bigint",
             ("100", "x", "100")))

    def test_untyped_values_share_only_when_asked(self):
        slots = [Slot("/", None), Slot("/", None), Slot(None, None), Slot(None, None)]
        self.assertEqual(number("SELECT %s, %s, %s, %s", slots, MERGE_TYPED)[0],
                         "SELECT $1, $2, $3, $4")
        self.assertEqual(number("SELECT %s, %s, %s, %s", slots, MERGE_ALL),
                         ("SELECT $1, $1, $2, $2", ("/", None)))
        self.assertEqual(number("SELECT %s, %s", [Slot("1", "integer")] * 2, NO_MERGE)[0],
                         "SELECT $1::integer, $2::integer")

    def test_tuples_are_lists_of_parameters(self):
        row = Slot(None, None, (Slot("1", "integer"), Slot("a", None),
                                Slot(None, None, (Slot("2", "integer"), Slot(None, None)))))
        self.assertEqual(number("SELECT * FROM t WHERE x IN %s AND y = %s", [row, Slot("1", "integer")]),
                         ("SELECT * FROM t WHERE x IN ($1::integer, $2, ($3::integer, $4)) AND y = $1::integer",
                          ("1", "a", "2", None)))
        with self.assertRaises(PlaceholderError):
            number("SELECT * FROM t WHERE x IN %s", [Slot(None, None, ())])


class RepeatedExpressions(SimpleTestCase):
    def test_only_the_copies_of_a_repeated_expression_share_an_untyped_number(self):
        sql = ('SELECT COALESCE("t"."d"::varchar, %s) AS "day", COUNT("t"."id") AS "n" FROM "t"'
               ' WHERE "t"."title" > %s GROUP BY COALESCE("t"."d"::varchar, %s)')
        # The "??" of WHERE is another context: it keeps its own $n.
        self.assertEqual(number(sql, [Slot("??", None)] * 3, MERGE_ALL),
                         (sql.replace("%s", "$1", 1).replace("%s", "$2", 1).replace("%s", "$1"), ("??", "??")))
        ordered = ('SELECT DISTINCT "t"."id", CONCAT("t"."title", %s) FROM "t"'
                   ' ORDER BY CONCAT("t"."title", %s) ASC LIMIT 30')
        self.assertEqual(number(ordered, [Slot("!", None)] * 2, MERGE_ALL)[1], ("!",))
        # Two expressions of the same text but other values are not one.
        self.assertEqual(number("SELECT CONCAT(a, %s), CONCAT(a, %s) GROUP BY CONCAT(a, %s)",
                                [Slot("x", None), Slot("y", None), Slot("x", None)], MERGE_ALL)[1],
                         ("x", "y"))
        # Untyped values outside repeated expressions are never merged.
        self.assertEqual(number("SELECT %s || b, c || %s FROM t", [Slot("x", None)] * 2, MERGE_ALL)[1],
                         ("x", "x"))
        # Quotes and parentheses do not split an item.
        self.assertEqual(number("SELECT f(%s, ',') AS \"a, b\", g FROM t GROUP BY f(%s, ',')",
                                [Slot("x", None)] * 2, MERGE_ALL)[1], ("x",))
