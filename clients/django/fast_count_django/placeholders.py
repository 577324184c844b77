"""Django's SQL placeholders rewritten as PostgreSQL's numbered parameters.

Django hands psycopg2 SQL in "pyformat" style: every ``%s`` is replaced by
the next parameter and ``%%`` stands for a literal ``%``, wherever they occur
(psycopg2 does not look at quotes, so neither does Django: a ``%`` that is
meant literally, even inside a quoted literal or identifier, is always
written ``%%``). fast_count() takes the query text and its parameters
separately, PREPARE-style, so the same SQL is rewritten here with ``$1..$n``:
the values never become part of the text.
"""

from typing import NamedTuple, Optional, Sequence, Tuple


class PlaceholderError(ValueError):
    """The SQL is not something psycopg2 would accept with these parameters."""


def _is_identifier_char(ch: str) -> bool:
    # Characters that may continue an identifier or a number in PostgreSQL;
    # "$1" right next to one of them would be read as part of that token.
    return len(ch) == 1 and (ch.isalnum() or ch in "_$")


def numbered(sql: str, casts: Sequence[Optional[str]]) -> str:
    """Returns ``sql`` with its i-th ``%s`` replaced by ``$i`` (with
    ``::casts[i-1]`` when that is not None) and every ``%%`` by ``%``.

    Raises PlaceholderError when the number of ``%s`` differs from
    ``len(casts)`` or the SQL holds another ``%`` directive, as psycopg2
    would.
    """
    return number(sql, [Slot(None, cast) for cast in casts], merge=NO_MERGE)[0]


class Slot(NamedTuple):
    """What one ``%s`` stands for: a value (its text, None for NULL, and its
    cast), or, with ``items``, a tuple written ``($a, $b, ...)``."""

    text: Optional[str]
    cast: Optional[str]
    items: Optional[tuple] = None


# Which equal values share one $n (see number()).
NO_MERGE = 0
MERGE_TYPED = 1   # same text and same cast: the very same constant
MERGE_ALL = 2     # also untyped values (strings, NULL) of the same text


_PLANS_LIMIT = 5000
_plans = {}   # (sql, shape of the parameters) -> the numbered SQL


def number(sql: str, slots: Sequence[Slot], merge: int = MERGE_TYPED) -> Tuple[str, Tuple]:
    """``sql`` with its ``%s`` numbered ``$1..$n`` and ``%%`` made ``%``, and
    the texts of ``$1..$n``.

    Django writes an expression that takes a parameter once for SELECT and
    again for GROUP BY / ORDER BY, with a parameter each time; psycopg2 makes
    both the same literal, but ``$1`` and ``$2`` are different expressions to
    PostgreSQL (42803, 42P10). So equal values share one ``$n``: always when
    they carry the same cast (the same constant either way), and with
    MERGE_ALL also untyped ones, which then get their type from their first
    use instead of from each use (hence only when the statement needs it).
    Raises PlaceholderError as numbered() does; an empty tuple too, as
    PostgreSQL would refuse psycopg2's ``()``.

    The numbered text depends on the SQL, the casts and which values are
    equal, not on the values: it is remembered for the next query of that
    shape.
    """
    texts = []
    shape = []
    numbers = {}   # (text, cast) -> n

    def walk(slot: Slot) -> None:
        if slot.items is not None:
            shape.append(("(", len(slot.items)))
            for item in slot.items:
                walk(item)
            return
        key = (slot.text, slot.cast)
        shareable = merge == MERGE_ALL or (merge == MERGE_TYPED and slot.cast is not None)
        n = numbers.get(key) if shareable else None
        if n is None:
            texts.append(slot.text)
            n = len(texts)
            if shareable:
                numbers[key] = n
        shape.append((n, slot.cast))

    for slot in slots:
        walk(slot)
    plan_key = (sql, len(slots), tuple(shape))
    numbered_sql = _plans.get(plan_key)
    if numbered_sql is None:
        numbered_sql = _render(sql, len(slots), shape)
        if len(_plans) >= _PLANS_LIMIT:
            _plans.clear()
        _plans[plan_key] = numbered_sql
    return numbered_sql, tuple(texts)


def _render(sql: str, slot_count: int, shape: list) -> str:
    out = []
    steps = iter(shape)
    at_slot = 0
    start = 0

    def param() -> str:
        n, cast = next(steps)
        if n == "(":
            if not cast:
                raise PlaceholderError("an empty tuple as a parameter: PostgreSQL refuses ()")
            return "(%s)" % ", ".join(param() for _ in range(cast))
        return "$%d::%s" % (n, cast) if cast else "$%d" % n

    while True:
        at = sql.find("%", start)
        if at < 0:
            out.append(sql[start:])
            break
        out.append(sql[start:at])
        directive = sql[at + 1:at + 2]
        if directive == "%":
            out.append("%")
        elif directive == "s":
            if at_slot == slot_count:
                raise PlaceholderError(
                    "the SQL has more %%s placeholders than the %d parameter(s)" % slot_count)
            text = param()
            at_slot += 1
            if at > 0 and _is_identifier_char(sql[at - 1]):
                text = " " + text
            if _is_identifier_char(sql[at + 2:at + 3]):
                text += " "
            out.append(text)
        else:
            raise PlaceholderError(
                "unsupported placeholder %r at position %d of the SQL" % (sql[at:at + 2], at))
        start = at + 2
    if at_slot != slot_count:
        raise PlaceholderError(
            "the SQL has %d %%s placeholder(s) but there are %d parameter(s)" % (at_slot, slot_count))
    return "".join(out)
