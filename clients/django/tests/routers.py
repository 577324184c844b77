class NoExtensionThere:
    """Keeps the fast_count migration operations (hint fast_count=True) off
    the "noext" database, so that the fallback can be tested there."""

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if hints.get("fast_count") and db == "noext":
            return False
        return None


class LaggingBooksThere:
    """Reads of library.LaggingBook (the pages whose counts may lag) go to
    the "registered" connections, whose options set fast_count.transparent =
    registered; everything else stays on its own database."""

    def db_for_read(self, model, **hints):
        if model._meta.label == "library.LaggingBook":
            return "registered"
        return None
