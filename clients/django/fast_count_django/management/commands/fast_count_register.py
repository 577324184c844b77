"""manage.py fast_count_register: registers the querysets that models list in
fast_count_querysets() (idempotent: registering again updates the interval).
Run it after migrate on deploy, or use the FastCountRegister migration
operation instead. Each queryset is registered in a savepoint of its own: one
that cannot be registered is reported (model and queryset) and the others
are registered all the same; the command then fails (exit status 1)."""

from django.apps import apps
from django.core.exceptions import EmptyResultSet
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, transaction

from ... import registry
from ...extension import ExtensionMissing
from ...placeholders import PlaceholderError
from ...statement import count_statement


class Command(BaseCommand):
    help = ("Registers the querysets of fast_count_querysets() with fast_count_register() "
            "(or unregisters them with --unregister).")

    def add_arguments(self, parser):
        parser.add_argument("app_labels", nargs="*", metavar="app_label",
                            help="only the models of these apps (default: all)")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS,
                            help='the database to register in (default: "default")')
        parser.add_argument("--unregister", action="store_true",
                            help="unregister the querysets instead")
        parser.add_argument("--dry-run", action="store_true",
                            help="print the statements, change nothing")

    def handle(self, *args, app_labels, database, unregister, dry_run, **options):
        for label in app_labels:
            try:
                apps.get_app_config(label)
            except LookupError as error:
                raise CommandError(str(error))
        done = 0
        failed = []
        try:
            with transaction.atomic(using=database):
                for model in registry.declaring_models(database, app_labels):
                    for queryset, refresh_every in registry.declared(model):
                        # One savepoint each: a queryset that cannot be
                        # registered takes no other registration with it.
                        try:
                            with transaction.atomic(using=database):
                                done += self._one(model, queryset, refresh_every, database,
                                                  unregister, dry_run)
                        except ExtensionMissing:
                            raise
                        except (DatabaseError, PlaceholderError) as error:
                            failed.append(model)
                            self.stderr.write("%s: cannot %s %s: %s" % (
                                model._meta.label, "unregister" if unregister else "register",
                                _describe(queryset), str(error).strip()))
        except ExtensionMissing as error:
            raise CommandError(str(error))
        verb = "unregistered" if unregister else "registered"
        self.stdout.write("%d queryset(s) %s%s" % (done, verb, " (dry run)" if dry_run else ""))
        if failed:
            raise CommandError("%d queryset(s) could not be %s (see above)" % (len(failed), verb))

    def _one(self, model, queryset, refresh_every, database, unregister, dry_run) -> int:
        label = model._meta.label
        try:
            statement = count_statement(queryset, database)
        except EmptyResultSet:
            self.stderr.write("%s: skipped a queryset that matches nothing" % label)
            return 0
        if refresh_every is None and not unregister:
            refresh_every = queryset._fast_count_options.refresh_every \
                if hasattr(queryset, "_fast_count_options") else None
        every = " every %s" % refresh_every if refresh_every and not unregister else ""
        self.stdout.write("%s: %s%s %s" % (label, statement.sql, every, list(statement.params)))
        if dry_run:
            return 1
        if unregister:
            return 1 if registry.unregister(queryset, using=database) else 0
        registry.register(queryset, refresh_every, using=database)
        return 1


def _describe(queryset) -> str:
    """The queryset as a Django developer reads it (the SQL with its values
    shown by Django, for the message only: it is never run)."""
    try:
        return "queryset <%s>" % queryset.query
    except Exception:  # e.g. EmptyResultSet: say at least what it is
        return "queryset of %s" % queryset.model._meta.label
