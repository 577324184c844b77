"""Parameters as text: what PostgreSQL reads from the text (with the cast)
is the value psycopg2 would have sent, whatever the session's DateStyle,
IntervalStyle and TimeZone."""

import datetime
import decimal
import uuid

from django.db import connection
from django.test import SimpleTestCase, TestCase
from psycopg2.extras import Json, NumericRange

from fast_count_django.params import Param, convert

D = decimal.Decimal
IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))

VALUES = [
    True, False, 0, -5, 2 ** 31, -2 ** 63, 2 ** 70, 1.5, -0.25, 1e300, float("inf"),
    float("-inf"), float("nan"), D("12.30"), D("-1E+3"), D("NaN"), D("Infinity"), D("-Infinity"),
    "text", "quote ' and \" and \\ and %s", "",
    datetime.date(2024, 2, 29), datetime.date(1, 1, 1),
    datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=IST),
    datetime.datetime(2024, 2, 29, 23, 59, 58),
    datetime.time(13, 14, 15, 16), datetime.time(1, 2, tzinfo=IST),
    datetime.timedelta(hours=-1), datetime.timedelta(days=3, microseconds=7),
    datetime.timedelta(days=-40, seconds=5),
    uuid.UUID("12345678-1234-5678-1234-567812345678"), b"\x00\xff'\\", bytearray(b"ab"),
    ["a", None, 'b "c" \\ {d}', ""], [1, 2 ** 40], [[1, 2], [3, 4]], [D("1.5"), 2],
    [datetime.date(2024, 1, 1)], [True, None], [uuid.UUID(int=1)],
]


class Conversion(SimpleTestCase):
    def test_types_and_casts(self):
        self.assertEqual(convert(None), Param(None, None))
        self.assertEqual(convert(True), Param("true", "boolean"))
        self.assertEqual(convert(7), Param("7", "integer"))
        self.assertEqual(convert(-2 ** 31), Param("-2147483648", "integer"))
        self.assertEqual(convert(2 ** 31), Param("2147483648", "bigint"))
        self.assertEqual(convert(2 ** 63), Param(str(2 ** 63), "numeric"))
        self.assertEqual(convert(0.1), Param("0.1", "numeric"))
        self.assertEqual(convert(float("nan")), Param("NaN", "double precision"))
        self.assertEqual(convert(D("1.50")), Param("1.50", "numeric"))
        # psycopg2 sends every non-finite Decimal as 'NaN'::numeric.
        for value in (D("Infinity"), D("-Infinity"), D("NaN"), D("sNaN")):
            self.assertEqual(convert(value), Param("NaN", "numeric"))
        self.assertEqual(convert("x"), Param("x", None))
        self.assertEqual(convert(b"\x01\xab"), Param("\\x01ab", "bytea"))
        self.assertEqual(convert(datetime.date(2024, 1, 2)), Param("2024-01-02", "date"))
        self.assertEqual(convert(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)),
                         Param("2024-01-02T03:04:05+00:00", "timestamp with time zone"))
        self.assertEqual(convert(datetime.datetime(2024, 1, 2, 3, 4, 5)),
                         Param("2024-01-02T03:04:05", "timestamp without time zone"))
        self.assertEqual(convert(datetime.timedelta(hours=-1)),
                         Param("-1 days +82800.000000 seconds", "interval"))
        self.assertEqual(convert(["a", None]), Param('{"a",NULL}', "text[]"))
        self.assertEqual(convert([1, 2 ** 40]), Param('{"1","1099511627776"}', "bigint[]"))
        self.assertEqual(convert([]), Param("{}", None))
        self.assertEqual(convert(Json({"a": [1]})), Param('{"a": [1]}', None))

    def test_subclasses_are_written_as_their_base_type(self):
        from django.db.models import IntegerChoices, TextChoices

        class Color(TextChoices):
            RED = "r", "Red"

        class Size(IntegerChoices):
            BIG = 3, "Big"

        self.assertEqual(convert(Color.RED), Param("r", None))
        self.assertEqual(convert(Size.BIG), Param("3", "integer"))

    def test_other_types_are_left_to_postgresql(self):
        for value in [NumericRange(1, 5), {"a": "b"}, (1, 2), [NumericRange(1, 2)], [1, "a"], [[]]]:
            with self.subTest(value):
                self.assertIsNone(convert(value))


class ReadBackByPostgreSQL(TestCase):
    def assert_read_back(self):
        with connection.cursor() as cursor:
            for value in VALUES:
                with self.subTest(value=value):
                    param = convert(value)
                    self.assertIsNotNone(param)
                    expected = "%s"
                    if isinstance(value, datetime.timedelta):
                        # psycopg2's own literal is misread under sql_standard.
                        expected = "make_interval(days => %s, secs => %s)"
                        args = [value.days, value.seconds + decimal.Decimal(value.microseconds) / 10 ** 6]
                    else:
                        args = [value]
                    cast = param.cast or "text"
                    cursor.execute("SELECT (%%s::text)::%s IS NOT DISTINCT FROM (%s)::%s"
                                   % (cast, expected, cast), [param.text] + args)
                    self.assertTrue(cursor.fetchone()[0], param)

    def test_with_default_settings(self):
        self.assert_read_back()

    def test_with_other_date_interval_and_time_zone_styles(self):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL DateStyle = 'SQL, DMY'")
            cursor.execute("SET LOCAL IntervalStyle = 'sql_standard'")
            cursor.execute("SET LOCAL TimeZone = 'Pacific/Chatham'")
            cursor.execute("SELECT '2024-02-29'::date::text")
            self.assertEqual(cursor.fetchone()[0], "29/02/2024", "the settings took effect")
        self.assert_read_back()
