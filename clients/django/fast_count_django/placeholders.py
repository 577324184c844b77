"""Django's SQL placeholders rewritten as PostgreSQL's numbered parameters.

Django hands psycopg2 SQL in "pyformat" style: every ``%s`` is replaced by
the next parameter and ``%%`` stands for a literal ``%``, wherever they occur
(psycopg2 does not look at quotes, so neither does Django: a ``%`` that is
meant literally, even inside a quoted literal or identifier, is always
written ``%%``). fast_count() takes the query text and its parameters
separately, PREPARE-style, so the same SQL is rewritten here with ``$1..$n``:
the values never become part of the text.
"""

from typing import Optional, Sequence


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
    out = []
    used = 0
    start = 0
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
            if used == len(casts):
                raise PlaceholderError(
                    "the SQL has more %%s placeholders than the %d parameter(s)" % len(casts))
            used += 1
            param = "$%d" % used
            if casts[used - 1]:
                param += "::" + casts[used - 1]
            if at > 0 and _is_identifier_char(sql[at - 1]):
                param = " " + param
            if _is_identifier_char(sql[at + 2:at + 3]):
                param += " "
            out.append(param)
        else:
            raise PlaceholderError(
                "unsupported placeholder %r at position %d of the SQL" % (sql[at:at + 2], at))
        start = at + 2
    if used != len(casts):
        raise PlaceholderError(
            "the SQL has %d %%s placeholder(s) but there are %d parameter(s)" % (used, len(casts)))
    return "".join(out)
