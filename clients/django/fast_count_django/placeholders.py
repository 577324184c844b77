"""Django's SQL placeholders rewritten as PostgreSQL's numbered parameters.

Django hands psycopg2 SQL in "pyformat" style: every ``%s`` is replaced by
the next parameter and ``%%`` stands for a literal ``%``, wherever they occur
(psycopg2 does not look at quotes, so neither does Django: a ``%`` that is
meant literally, even inside a quoted literal or identifier, is always
written ``%%``). fast_count() takes the query text and its parameters
separately, PREPARE-style, so the same SQL is rewritten here with ``$1..$n``:
the values never become part of the text.
"""

import re
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
MERGE_ALL = 2     # also untyped values (strings, NULL) of one repeated expression


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
    MERGE_ALL also untyped ones, but only the copies of one expression that
    Django repeated (see _repeated()): those are typed alike anyway, while
    an equal string elsewhere, typed by another context, keeps its own $n.
    Raises PlaceholderError as numbered() does; an empty tuple too, as
    PostgreSQL would refuse psycopg2's ``()``.

    The numbered text depends on the SQL, the casts and which values are
    equal, not on the values: it is remembered for the next query of that
    shape.
    """
    texts = []
    shape = []
    numbers = {}   # (text, cast[, expression]) -> n
    expressions = _repeated(sql, slots) if merge == MERGE_ALL else None
    current = [None]

    def walk(slot: Slot) -> None:
        if slot.items is not None:
            shape.append(("(", len(slot.items)))
            for item in slot.items:
                walk(item)
            return
        key = (slot.text, slot.cast)
        shareable = merge != NO_MERGE and slot.cast is not None
        if merge == MERGE_ALL and slot.cast is None and current[0] is not None:
            key = (slot.text, None, current[0])
            shareable = True
        n = numbers.get(key) if shareable else None
        if n is None:
            texts.append(slot.text)
            n = len(texts)
            if shareable:
                numbers[key] = n
        shape.append((n, slot.cast))

    for i, slot in enumerate(slots):
        current[0] = expressions[i] if expressions is not None else None
        walk(slot)
    plan_key = (sql, len(slots), tuple(shape))
    numbered_sql = _plans.get(plan_key)
    if numbered_sql is None:
        numbered_sql = _render(sql, len(slots), shape)
        if len(_plans) >= _PLANS_LIMIT:
            _plans.clear()
        _plans[plan_key] = numbered_sql
    return numbered_sql, tuple(texts)


_CLAUSES = re.compile(r"\b(?:SELECT|DISTINCT|FROM|WHERE|GROUP BY|HAVING|ORDER BY|LIMIT|OFFSET|"
                      r"WINDOW|UNION|INTERSECT|EXCEPT)\b")
_SUFFIXES = re.compile(r"(?:\s+(?:ASC|DESC|NULLS FIRST|NULLS LAST))+$")


def _items(sql: str) -> list:
    """(start, end) of the top-level items of Django's SQL: what lies between
    two commas or clause keywords outside parentheses and quotes (a select
    list entry without its alias, a GROUP BY or ORDER BY entry, ...)."""
    spans = []
    depth = 0
    quote = None
    start = 0
    at = 0
    length = len(sql)
    while at < length:
        ch = sql[at]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            if ch == ",":
                spans.append((start, at))
                start = at + 1
            elif ch.isupper() and (at == 0 or not sql[at - 1].isalnum()):
                match = _CLAUSES.match(sql, at)
                if match:
                    spans.append((start, at))
                    start = at = match.end()
                    continue
        at += 1
    spans.append((start, length))
    return spans


def _repeated(sql: str, slots: Sequence[Slot]) -> list:
    """For each slot, what identifies the expression holding it if Django
    repeated that expression (the same SQL, the same values, in several
    top-level items: SELECT and GROUP BY / ORDER BY), else None."""
    positions = []
    at = sql.find("%")
    while at >= 0:
        if sql[at + 1:at + 2] == "s":
            positions.append(at)
        at = sql.find("%", at + 2)
    if len(positions) != len(slots):
        return [None] * len(slots)   # number() reports it
    spans = _items(sql)
    found = {}   # span -> (its text without alias or ordering, its slots)
    owner = []
    span_index = 0
    for i, at in enumerate(positions):
        while spans[span_index][1] <= at:
            span_index += 1
        owner.append(spans[span_index])
        found.setdefault(spans[span_index], []).append(i)
    signatures = {}
    for span, members in found.items():
        text = sql[span[0]:span[1]].strip()
        alias = text.rfind(" AS ")
        if alias > 0 and text.count("(", alias) == text.count(")", alias):
            text = text[:alias]
        text = _SUFFIXES.sub("", text)
        signatures[span] = (text, tuple(slots[i] for i in members))
    counts = {}
    for signature in signatures.values():
        counts[signature] = counts.get(signature, 0) + 1
    out = []
    for i, span in enumerate(owner):
        signature = signatures[span]
        if counts[signature] < 2:
            out.append(None)
        else:
            out.append((signature, found[span].index(i)))
    return out


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
