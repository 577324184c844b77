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
    """
    out = []
    texts = []
    numbers = {}   # (text, cast) -> n
    at_slot = 0
    start = 0

    def param(slot: Slot) -> str:
        if slot.items is not None:
            if not slot.items:
                raise PlaceholderError("an empty tuple as a parameter: PostgreSQL refuses ()")
            return "(%s)" % ", ".join(param(item) for item in slot.items)
        key = (slot.text, slot.cast)
        shareable = merge == MERGE_ALL or (merge == MERGE_TYPED and slot.cast is not None)
        n = numbers.get(key) if shareable else None
        if n is None:
            texts.append(slot.text)
            n = len(texts)
            if shareable:
                numbers[key] = n
        return "$%d::%s" % (n, slot.cast) if slot.cast else "$%d" % n

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
            if at_slot == len(slots):
                raise PlaceholderError(
                    "the SQL has more %%s placeholders than the %d parameter(s)" % len(slots))
            text = param(slots[at_slot])
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
    if at_slot != len(slots):
        raise PlaceholderError(
            "the SQL has %d %%s placeholder(s) but there are %d parameter(s)" % (at_slot, len(slots)))
    return "".join(out), tuple(texts)
