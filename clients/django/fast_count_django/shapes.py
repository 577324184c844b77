"""The compiled count SQL of plain filtered querysets, kept per shape.

Compiling a queryset is most of what a cached count() costs in Python
(bench_count.py). Querysets that code builds again and again differ in their
values only, so for the common kind - filters on columns of the model and
of joined models, combined with AND / OR / NOT, no annotation, slice,
DISTINCT, GROUP BY, extra() or set operation - the SQL is kept under a key
that holds everything the SQL text depends on, and the values are taken
from the new queryset the way Django's compiler takes them.

The key of a filter holds its lookup class (only Django's own built-in
lookups, whose SQL is a function of the column and of the placeholders their
right-hand side becomes), the column's alias, column and field, and the SQL
of its right-hand side (``%s``, or ``(%s, %s)`` for an IN list of two after
Django dropped duplicates and None); a boolean ``exact`` or an ``isnull``
holds its value, which is in the SQL. The joins are in the key as Django's
FROM clause lists them. Anything else is compiled by Django every time.

A shape is kept only if, the first time, Django's own compiler gave the very
parameters this module takes from the filters; the cache is per process,
per database alias, bounded, and only ever holds SQL that Django wrote.
"""

import threading
from typing import Optional, Tuple

from django.db.models import lookups as builtin_lookups
from django.db.models.expressions import Col
from django.db.models.fields import related_lookups
from django.db.models.sql.datastructures import BaseTable, Join
from django.db.models.sql.query import Query
from django.db.models.sql.where import WhereNode

ENABLED = True   # False: Django compiles every count (bench_count.py compares)
LIMIT = 2000
_lock = threading.Lock()
_shapes = {}    # key -> (Django's SQL or NOT_KEPT, the objects the key has the id() of)
NOT_KEPT = ""   # Django's parameters were not the ones taken from the filters
UNKNOWN = None  # not seen yet


class _Unsupported(Exception):
    pass


_PLAIN = (str, int, float, bool, type(None))


def _direct(value) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if hasattr(value, "resolve_expression") or hasattr(value, "as_sql"):
        return False
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_direct(item) for item in value)
    return True


# How a lookup class is compiled, found once per class and vendor.
_GENERIC, _EXACT, _IN, _ISNULL = "generic", "exact", "in", "isnull"
_kinds = {}


def _kind(lookup_class, connection):
    found = _kinds.get((lookup_class, connection.vendor))
    if found is None:
        found = _UNSUPPORTED
        cls = base = lookup_class
        if cls in _RELATED:
            # Filters on a foreign key (author=..., author.books): for a single
            # column (a Col, not a MultiColSource) they compile as the lookup
            # they derive from, their value made the key's by Django already.
            base = _RELATED[cls]
        if (base.__module__ == builtin_lookups.__name__
                and getattr(cls, "as_" + connection.vendor, None) is None):
            cls = base
            if cls is builtin_lookups.IsNull:
                found = _ISNULL
            elif issubclass(cls, builtin_lookups.IsNull):
                pass
            elif cls.as_sql is builtin_lookups.Exact.as_sql:
                found = _EXACT
            elif cls.as_sql is builtin_lookups.In.as_sql:
                if not connection.ops.max_in_list_size():
                    found = _IN
            elif cls.as_sql in (builtin_lookups.BuiltinLookup.as_sql, builtin_lookups.Regex.as_sql):
                found = _GENERIC
        _kinds[(lookup_class, connection.vendor)] = found
    return found


_UNSUPPORTED = "unsupported"
_RELATED = {
    related_lookups.RelatedExact: builtin_lookups.Exact,
    related_lookups.RelatedIn: builtin_lookups.In,
    related_lookups.RelatedLessThan: builtin_lookups.LessThan,
    related_lookups.RelatedGreaterThan: builtin_lookups.GreaterThan,
    related_lookups.RelatedGreaterThanOrEqual: builtin_lookups.GreaterThanOrEqual,
    related_lookups.RelatedLessThanOrEqual: builtin_lookups.LessThanOrEqual,
    related_lookups.RelatedIsNull: builtin_lookups.IsNull,
}


def _leaf(lookup, connection, params: list, refs: list):
    cls = type(lookup)
    kind = _kind(cls, connection)
    lhs = lookup.lhs
    if kind is _UNSUPPORTED or type(lhs) is not Col or lookup.bilateral_transforms:
        raise _Unsupported
    rhs = lookup.rhs
    if not _direct(rhs):
        raise _Unsupported
    column = (lhs.alias, id(lhs.target), id(lhs.output_field))
    refs.append((lhs.target, lhs.output_field))
    if kind is _ISNULL:
        if not isinstance(rhs, bool):
            raise _Unsupported
        return (cls, column, rhs)
    if (kind is _EXACT and isinstance(rhs, bool) and getattr(lhs, "conditional", False)
            and connection.ops.conditional_expression_supported_in_where_clause(lhs)):
        return (cls, column, rhs)   # "col" or "NOT col": no parameter
    rhs_sql, rhs_params = lookup.process_rhs(None, connection)
    params.extend(rhs_params)
    return (cls, column, rhs_sql if isinstance(rhs_sql, str) else tuple(rhs_sql))


def _node(node, connection, params: list, refs: list):
    if type(node) is not WhereNode:
        if isinstance(node, builtin_lookups.Lookup):
            return _leaf(node, connection, params, refs)
        raise _Unsupported
    return (node.connector, node.negated, node.resolved,
            tuple(_node(child, connection, params, refs) for child in node.children))


def _tables(query, refs: list) -> tuple:
    out = []
    for alias, table in query.alias_map.items():
        if type(table) is BaseTable:
            out.append((alias, table.table_name, query.alias_refcount[alias] > 0))
        elif type(table) is Join and table.filtered_relation is None:
            refs.append(table.join_field)
            out.append((alias, table.table_name, table.parent_alias, table.join_type,
                        id(table.join_field), table.nullable, query.alias_refcount[alias] > 0))
        else:
            raise _Unsupported
    return tuple(out)


def key_and_params(query, connection) -> Optional[Tuple[tuple, list, list]]:
    """The shape key of a plain filtered query, its parameters, as Django's
    compiler would give them, and the objects whose id() the key holds
    (kept with the SQL, so that no other object can take their id); None
    for another kind of query."""
    if (not ENABLED or type(query) is not Query or query.annotations or query.group_by is not None
            or query.is_sliced or query.distinct or query.combinator or query.extra_tables
            or query.subquery):
        return None
    params = []
    refs = []
    try:
        key = (connection.alias, query.model, _tables(query, refs),
               _node(query.where, connection, params, refs))
    except _Unsupported:
        return None
    except Exception:   # a value Django's own compiler should judge (and report)
        return None
    return key, params, refs


def lookup(key) -> Optional[str]:
    """The SQL kept for ``key``; NOT_KEPT (false) for a shape that is
    compiled every time; UNKNOWN (None) the first time."""
    with _lock:
        found = _shapes.get(key)
    return found[0] if found is not None else UNKNOWN


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if a == b:
        return True
    # psycopg2's adapters (Binary, Inet, Json) do not compare: what they wrap does.
    for wrapped in ("adapted", "addr"):
        if hasattr(a, wrapped):
            return _same(getattr(a, wrapped), getattr(b, wrapped))
    return False


def keep(key, sql: str, params, shape_params, refs) -> None:
    """Keeps ``sql`` for ``key`` if Django's parameters are the ones this
    module takes from the filters (values and types)."""
    same = len(params) == len(shape_params) and all(
        _same(a, b) for a, b in zip(params, shape_params))
    with _lock:
        if len(_shapes) >= LIMIT:
            _shapes.clear()
        _shapes[key] = (sql if same else NOT_KEPT, refs)


def forget() -> None:
    with _lock:
        _shapes.clear()
