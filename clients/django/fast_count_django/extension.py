"""Whether a database has the fast_count extension, remembered per process.

Looking it up once per database alias (and not on every count) keeps the
count to one round trip. A database found without the extension is looked
at again after RECHECK_AFTER seconds, so that installing it later takes
effect without restarting the application; ``forget()`` does it at once.
"""

import threading
import time
from typing import Dict, Optional, Tuple

RECHECK_AFTER = 300.0  # seconds

_lock = threading.Lock()
_schemas: Dict[str, Tuple[Optional[str], float]] = {}  # alias -> (schema or None, when looked up)

_SCHEMA_SQL = """
    SELECT n.nspname
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'fast_count'
"""


def schema(connection) -> Optional[str]:
    """The schema holding fast_count() in this connection's database, or
    None when the extension is not installed there."""
    alias = connection.alias
    with _lock:
        known = _schemas.get(alias)
    if known is not None and (known[0] is not None or time.monotonic() - known[1] < RECHECK_AFTER):
        return known[0]
    with connection.cursor() as cursor:
        cursor.execute(_SCHEMA_SQL)
        row = cursor.fetchone()
    found = row[0] if row else None
    with _lock:
        _schemas[alias] = (found, time.monotonic())
    return found


def function(connection, name: str) -> str:
    """The schema-qualified name of one of the extension's functions (it need
    not be on the search_path), or raise ExtensionMissing."""
    found = schema(connection)
    if found is None:
        raise ExtensionMissing(connection.alias)
    return "%s.%s" % (connection.ops.quote_name(found), name)


def forget(alias: Optional[str] = None) -> None:
    """Look the extension up again on next use (for one alias or all)."""
    with _lock:
        if alias is None:
            _schemas.clear()
        else:
            _schemas.pop(alias, None)


class ExtensionMissing(Exception):
    """The database has no fast_count extension."""

    def __init__(self, alias: str):
        super().__init__(
            "the fast_count extension is not installed in the database %r "
            "(CREATE EXTENSION fast_count, e.g. with the CreateFastCountExtension "
            "migration operation)" % alias)
        self.alias = alias
