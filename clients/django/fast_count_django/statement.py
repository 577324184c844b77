"""The query that counts a queryset, in the form fast_count() takes it.

``count_sql()`` compiles the SELECT whose rows a queryset's ``count()``
counts, with Django's own compiler; ``prepare()`` converts its Python
parameters to text and ``Prepared.statement()`` numbers Django's ``%s``
placeholders ``$1..$n``. Registration builds its statement the same way, so a registered
queryset and the ``count()`` of that queryset share one cache entry.
"""

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from django.db import DEFAULT_DB_ALIAS, connections

from . import params as param_text
from .placeholders import numbered


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
    (``none()``, ``filter(pk__in=[])``), which needs no database."""
    query = counted_query(queryset.query)
    return query.get_compiler(connection=connection).as_sql()


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


@dataclass(frozen=True)
class Prepared:
    """Django's SQL with its parameters converted, ready to be numbered."""

    django_sql: str
    params: Tuple[param_text.Param, ...]

    def statement(self) -> CountStatement:
        """The statement. Raises placeholders.PlaceholderError for SQL
        psycopg2 would refuse too."""
        return CountStatement(numbered(self.django_sql, [param.cast for param in self.params]),
                              tuple(param.text for param in self.params))


def prepare(connection, sql: str, values: Sequence) -> Prepared:
    """Converts Django's parameters; may query the database for parameter
    types only PostgreSQL can write."""
    converted = [param_text.convert(value) for value in values]
    unknown = [i for i, param in enumerate(converted) if param is None]
    if unknown:
        for i, param in zip(unknown, _ask_postgresql(connection, [values[i] for i in unknown])):
            converted[i] = param
    return Prepared(sql, tuple(converted))


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
    return prepared.statement()
