"""Django's query parameters as the text fast_count() takes for ``$1..$n``.

fast_count() receives every parameter as text and PostgreSQL reads it with
the input function of the parameter's type. That type must be the one the
value has when Django runs the query itself: psycopg2 sends most values as
typed literals (``'2024-01-31'::date``, ``5`` is an integer, ``1.5`` a
numeric) and only strings untyped. ``convert()`` therefore returns the text
together with the cast psycopg2's literal carries, so that ``$n::cast``
resolves operators (integer division, date arithmetic, ...) exactly as the
plain query does. Strings and NULL stay uncast and take their type from
where they are used, as psycopg2's literals do.

The text is independent of the session's DateStyle and IntervalStyle (ISO
8601 dates, explicit signs on interval fields), so a registered query reads
its parameters the same way in the background worker.

Values of other types (ranges, inet, hstore, custom adapters) are not
guessed at: ``convert()`` returns None and the caller asks PostgreSQL for
their text and type through the driver (see ``statement.py``).
"""

import datetime
import decimal
import uuid
from typing import NamedTuple, Optional

try:  # psycopg2's JSON wrapper, used for JSONField values by newer Django
    from psycopg2.extras import Json as _Psycopg2Json
except ImportError:  # pragma: no cover - psycopg2 is how Django talks to PostgreSQL
    _Psycopg2Json = ()


class Param(NamedTuple):
    text: Optional[str]   # None is SQL NULL
    cast: Optional[str]   # the SQL type psycopg2's literal has, None if untyped


class Row(NamedTuple):
    """A Python tuple: psycopg2 writes it as ``(a, b, ...)``, the idiom of
    ``extra(where=["pages IN %s"], params=[(1, 2)])``. Each item becomes a
    parameter of its own (a Param, or a Row for a nested tuple)."""

    items: tuple


_INT4 = (-2 ** 31, 2 ** 31 - 1)
_INT8 = (-2 ** 63, 2 ** 63 - 1)
# Array element types that psycopg2's ARRAY[...] widens to one another.
_NUMERIC_WIDTH = {"integer": 0, "bigint": 1, "numeric": 2}


def _int_type(value: int) -> str:
    # PostgreSQL types an integer literal by its size.
    if _INT4[0] <= value <= _INT4[1]:
        return "integer"
    if _INT8[0] <= value <= _INT8[1]:
        return "bigint"
    return "numeric"


def _float(value: float) -> Param:
    if value != value:
        return Param("NaN", "double precision")
    if value in (float("inf"), float("-inf")):
        return Param("Infinity" if value > 0 else "-Infinity", "double precision")
    # psycopg2 writes repr(value), which PostgreSQL reads as a numeric literal.
    return Param(repr(float(value)), "numeric")


def _interval(value: datetime.timedelta) -> str:
    # psycopg2's own spelling, plus an explicit sign on the seconds: under
    # IntervalStyle = sql_standard a leading "-" would otherwise apply to
    # every field ("-1 days 3600 seconds" meaning -1 day -1 hour).
    return "%d days %+d.%06d seconds" % (value.days, value.seconds, value.microseconds)


def convert(value) -> Optional[Param]:
    """The text and cast of one parameter, or None for a type left to
    PostgreSQL."""
    if value is None:
        return Param(None, None)
    if isinstance(value, bool):
        return Param("true" if value else "false", "boolean")
    if isinstance(value, int):
        value = int(value)  # IntegerChoices and other int subclasses
        return Param(str(value), _int_type(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            # psycopg2 sends every non-finite Decimal (infinities, sNaN) as
            # 'NaN'::numeric: Django's own count() compares with NaN, so ours must.
            return Param("NaN", "numeric")
        return Param(str(value), "numeric")
    if isinstance(value, str):
        return Param(str.__str__(value), None)  # the characters, not a subclass's __str__
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Param("\\x" + bytes(value).hex(), "bytea")
    if isinstance(value, datetime.datetime):
        aware = value.tzinfo is not None and value.utcoffset() is not None
        return Param(value.isoformat(),
                     "timestamp with time zone" if aware else "timestamp without time zone")
    if isinstance(value, datetime.date):
        return Param(value.isoformat(), "date")
    if isinstance(value, datetime.time):
        return Param(value.isoformat(),
                     "time with time zone" if value.tzinfo is not None else "time without time zone")
    if isinstance(value, datetime.timedelta):
        return Param(_interval(value), "interval")
    if isinstance(value, uuid.UUID):
        return Param(str(value), "uuid")
    if isinstance(value, list):
        return _array(value)
    if isinstance(value, _Psycopg2Json):
        return Param(value.dumps(value.adapted), None)
    return None


def _array(items: list) -> Optional[Param]:
    """A Python list as a PostgreSQL array literal, typed like psycopg2's
    ARRAY[...] (elements of one type; integers widen to bigint/numeric)."""
    element_types = set()

    def literal(values: list) -> Optional[str]:
        parts = []
        for item in values:
            if isinstance(item, list):
                if not item:
                    return None  # ARRAY['{}'] - leave such oddities to PostgreSQL
                nested = literal(item)
                if nested is None:
                    return None
                parts.append(nested)
                continue
            param = convert(item)
            if param is None:
                return None
            if param.text is None:
                parts.append("NULL")
                continue
            element_types.add(param.cast or "text")
            quoted = param.text.replace("\\", "\\\\").replace('"', '\\"')
            parts.append('"%s"' % quoted)
        return "{" + ",".join(parts) + "}"

    text = literal(items)
    if text is None:
        return None
    if not element_types:
        # [] and [None, ...] are written '{}' / '{NULL}' by psycopg2: untyped.
        return Param(text, None)
    if len(element_types) == 1:
        return Param(text, element_types.pop() + "[]")
    if element_types <= set(_NUMERIC_WIDTH):
        return Param(text, max(element_types, key=_NUMERIC_WIDTH.get) + "[]")
    return None  # mixed types: PostgreSQL knows best which common type they get
