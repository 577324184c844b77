"""The query that counts a queryset, in the form fast_count() takes it.

``count_sql()`` compiles the SELECT whose rows a queryset's ``count()``
counts, with Django's own compiler; ``prepare()`` converts its Python
parameters to text and ``Prepared.statement()`` numbers Django's ``%s``
placeholders ``$1..$n``. Registration builds its statement the same way, so a registered
queryset and the ``count()`` of that queryset share one cache entry.
"""

import threading
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from django.db import DEFAULT_DB_ALIAS, connections

from . import params as param_text
from . import shapes
from .savepoint import protected
from .placeholders import MERGE_ALL, MERGE_TYPED, Slot, number


@dataclass(frozen=True)
class CountStatement:
    """What fast_count(sql, params) receives for a queryset."""

    sql: str                               # a SELECT with $1..$n
    params: Tuple[Optional[str], ...]      # the text of $1..$n, None for NULL


def counted_query(query):
    """A copy of ``query`` that returns the rows ``query.get_count()`` counts.

    This mirrors Query.get_aggregation() (Django 3.2-4.x) for a COUNT(*):
    when Django counts the query directly (no GROUP BY, slice, DISTINCT,
    annotation or set operation), only the rows matter, so the selected
    columns are cut down to the primary key - which also lets querysets that
    differ only in ``values()``/``only()``/``select_related()`` share one
    cache entry. Otherwise Django counts the query as a subquery whose
    ordering it drops unless a slice or DISTINCT ON needs it; dropping it
    matters beyond speed: ordering by a related field would add columns to
    SELECT DISTINCT or GROUP BY and change the rows.
    """
    q = query.clone()
    q.select_for_update = False  # counting locks nothing
    q.select_related = False     # joins that only fetch related objects
    pk = q.model._meta.pk
    if (isinstance(q.group_by, tuple) or q.is_sliced or q.annotations
            or q.distinct or q.combinator):
        q.set_annotation_mask(q.annotation_select)
        q.clear_ordering(force=False)
        if not q.distinct:
            has_aggregates = any(getattr(annotation, "contains_aggregate", True)
                                 for annotation in q.annotations.values())
            if q.default_cols and has_aggregates:
                q.group_by = (pk.get_col(q.get_initial_alias()),)
            q.default_cols = False
        if q.select == () and not q.default_cols and not q.annotation_select_mask:
            q.select = (pk.get_col(q.get_initial_alias()),)
    else:
        q.clear_ordering(force=True)
        q.select = (pk.get_col(q.get_initial_alias()),)
        q.default_cols = False
        q.extra = {}
    return q


def count_sql(queryset, connection) -> Tuple[str, tuple]:
    """Django's SQL (with %s) and parameters of the rows ``queryset.count()``
    counts. Raises EmptyResultSet for a queryset that matches nothing
    (``none()``, ``filter(pk__in=[])``), which needs no database. The SQL
    of plain filtered querysets is kept per shape (shapes.py)."""
    query = queryset.query
    shaped = shapes.key_and_params(query, connection)
    if shaped is not None:
        known = shapes.lookup(shaped[0])
        if known:
            return known, tuple(shaped[1])
    sql, params = counted_query(query).get_compiler(connection=connection).as_sql()
    if shaped is not None and known is shapes.UNKNOWN:
        shapes.keep(shaped[0], sql, params, shaped[1], shaped[2])
    return sql, params


def _ask_postgresql(connection, values: Sequence) -> list:
    """The text and type PostgreSQL gives values that psycopg2 adapts (ranges,
    inet, hstore, custom adapters): the driver binds them exactly as it does
    for Django's own queries, and PostgreSQL's output functions write them."""
    columns = ", ".join(["(%s)::text, pg_catalog.pg_typeof(%s)::text"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + columns, [value for value in values for _ in (0, 1)])
        row = cursor.fetchone()
    return [param_text.Param(row[2 * i], None if row[2 * i + 1] == "unknown" else row[2 * i + 1])
            for i in range(len(values))]


# The Django SQL of the statements that needed their untyped equal values
# merged, so that only the first count of such a query pays for the refused
# attempt. Bounded: forgotten wholesale when full.
_MERGE_ALL_LIMIT = 10000
_merge_all_lock = threading.Lock()
_merge_all = set()


@dataclass(frozen=True)
class Prepared:
    """Django's SQL with its parameters converted, ready to be numbered."""

    django_sql: str
    params: Tuple[Slot, ...]

    def statement(self, merge: int = MERGE_TYPED) -> CountStatement:
        """The statement (equal values sharing a ``$n`` as ``merge`` says,
        see placeholders.number()). Raises placeholders.PlaceholderError for
        SQL psycopg2 would refuse too."""
        sql, texts = number(self.django_sql, self.params, merge)
        return CountStatement(sql, texts)

    def statements(self):
        """The statement, then, if it differs, the one whose untyped equal
        values share a $n too: the second is only for when PostgreSQL
        refuses the first as grouping or ordering by an expression it does
        not find in the select list (see execution.run()). Once the second
        was needed for this SQL, it comes first. Lazy: the second is only
        made when asked for."""
        with _merge_all_lock:
            known = self.django_sql in _merge_all
        if known:
            second = self.statement(MERGE_ALL)
            yield second
            first = self.statement(MERGE_TYPED)
            if first != second:
                yield first
            return
        first = self.statement(MERGE_TYPED)
        yield first
        second = self.statement(MERGE_ALL)
        if second != first:
            yield second

    def learned(self, statement: CountStatement) -> None:
        """``statement`` worked where the other one of statements() did not."""
        merged = statement == self.statement(MERGE_ALL)
        with _merge_all_lock:
            if not merged:
                _merge_all.discard(self.django_sql)
                return
            if len(_merge_all) >= _MERGE_ALL_LIMIT:
                _merge_all.clear()
            _merge_all.add(self.django_sql)


def _slots(values: Sequence, leaves: list) -> list:
    """Slots for ``values`` (a tuple's items in a list, frozen by prepare()
    once filled); the leaves only PostgreSQL can write are appended to
    ``leaves`` as (value, index, list holding it) to be filled in."""
    slots = []
    for value in values:
        if isinstance(value, tuple):
            slots.append(Slot(None, None, _slots(value, leaves)))
            continue
        param = param_text.convert(value)
        if param is None:
            leaves.append((value, len(slots), slots))
            slots.append(None)
        else:
            slots.append(Slot(param.text, param.cast))
    return slots


def prepare(connection, sql: str, values: Sequence) -> Prepared:
    """Converts Django's parameters; may query the database for parameter
    types only PostgreSQL can write. A tuple is psycopg2's ``(a, b, ...)``:
    its items are parameters of their own."""
    leaves = []
    slots = _slots(values, leaves)
    if leaves:
        with protected(connection):   # a failed query must not abort the caller's transaction
            written = _ask_postgresql(connection, [value for value, _, _ in leaves])
        for (_, index, holder), param in zip(leaves, written):
            holder[index] = Slot(param.text, param.cast)
    return Prepared(sql, _frozen(slots))


def _frozen(slots: list) -> tuple:
    return tuple(Slot(slot.text, slot.cast, _frozen(list(slot.items))) if slot.items is not None
                 else slot for slot in slots)


def prepare_queryset(queryset, using: Optional[str] = None) -> Tuple[object, Prepared]:
    """The connection of ``using`` (default: the queryset's database) and the
    prepared count of the queryset there. Raises EmptyResultSet when the
    queryset matches nothing without asking the database."""
    connection = connections[using or queryset.db or DEFAULT_DB_ALIAS]
    sql, values = count_sql(queryset, connection)
    return connection, prepare(connection, sql, values)


def count_statement(queryset, using: Optional[str] = None) -> CountStatement:
    """The statement fast_count() gets for ``queryset.count()``."""
    _, prepared = prepare_queryset(queryset, using)
    return next(prepared.statements())
