"""Migration operations: create the extension, register querysets.

Both ask the database routers first, with the hint ``fast_count=True``, so a
router can keep them off databases that should not get them::

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if hints.get("fast_count") and db == "legacy":
            return False
"""

from django.apps import apps as global_apps
from django.core.exceptions import EmptyResultSet
from django.db import router
from django.db.migrations.operations.base import Operation

from . import extension, registry


def _applies(schema_editor, app_label, hints) -> bool:
    connection = schema_editor.connection
    return connection.vendor == "postgresql" and router.allow_migrate(
        connection.alias, app_label, **hints)


class CreateFastCountExtension(Operation):
    """``CREATE EXTENSION IF NOT EXISTS fast_count``; reversed by dropping it
    (which forgets every cached count and registration).

    Creating the extension needs a superuser; if the application's role is
    not one, have a superuser create it beforehand and this is a no-op."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, hints=None):
        self.hints = {"fast_count": True, **(hints or {})}

    def deconstruct(self):
        kwargs = {"hints": self.hints} if self.hints != {"fast_count": True} else {}
        return (self.__class__.__qualname__, [], kwargs)

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _applies(schema_editor, app_label, self.hints):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS fast_count")
            extension.forget(schema_editor.connection.alias)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _applies(schema_editor, app_label, self.hints):
            schema_editor.execute("DROP EXTENSION IF EXISTS fast_count")
            extension.forget(schema_editor.connection.alias)

    def describe(self):
        return "Creates the fast_count extension"

    @property
    def migration_name_fragment(self):
        return "create_extension_fast_count"


class FastCountRegister(Operation):
    """Registers querysets for precaching; reversed by unregistering them.

    ``querysets`` is either

    - a model label, ``"library.Book"``: the querysets that model's
      ``fast_count_querysets()`` lists, from the model as it is in your code
      (like ``manage.py fast_count_register``). Put it in the app's latest
      migration; the columns its querysets use must exist at that point.
    - a function ``f(apps)`` returning querysets or (queryset, interval)
      pairs, given the historical models like RunPython, for querysets that
      must match the schema of this very migration.
    """

    reversible = True
    reduces_to_sql = False

    def __init__(self, querysets, hints=None):
        self.querysets = querysets
        self.hints = {"fast_count": True, **(hints or {})}

    def deconstruct(self):
        kwargs = {"hints": self.hints} if self.hints != {"fast_count": True} else {}
        return (self.__class__.__qualname__, [self.querysets], kwargs)

    def state_forwards(self, app_label, state):
        pass

    def _declared(self, state):
        if isinstance(self.querysets, str):
            return registry.declared(global_apps.get_model(self.querysets))
        where = "%s()" % self.querysets.__name__
        return [registry.as_declared(item, where) for item in self.querysets(state.apps)]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _applies(schema_editor, app_label, self.hints):
            return
        for queryset, refresh_every in self._declared(to_state):
            try:
                registry.register(queryset, refresh_every, using=schema_editor.connection.alias)
            except EmptyResultSet:
                pass  # matches nothing: nothing to keep counted

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _applies(schema_editor, app_label, self.hints):
            return
        for queryset, _ in self._declared(from_state):
            try:
                registry.unregister(queryset, using=schema_editor.connection.alias)
            except EmptyResultSet:
                pass

    def describe(self):
        source = self.querysets if isinstance(self.querysets, str) else self.querysets.__name__
        return "Registers the fast_count querysets of %s" % source

    @property
    def migration_name_fragment(self):
        return "fast_count_register"
