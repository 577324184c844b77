class NoExtensionThere:
    """Keeps the fast_count migration operations (hint fast_count=True) off
    the "noext" database, so that the fallback can be tested there."""

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if hints.get("fast_count") and db == "noext":
            return False
        return None
