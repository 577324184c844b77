"""fast_count for Django: cheap ``count()`` from the fast_count PostgreSQL
extension, for querysets, paginators and registered (precached) querysets.

Public API (see README.md):

- ``FastCountManager`` / ``FastCountQuerySet`` / ``FastCountQuerySetMixin``
- ``fast_count(queryset)``: the count of any queryset
- ``count_statement(queryset)``: the SQL and parameters fast_count() gets
- ``register`` / ``unregister`` / ``refresh``: precaching
- ``FastCountFallbackWarning``, ``forget_extension_state``
- ``fast_count_django.operations``: CreateFastCountExtension, FastCountRegister
- ``fast_count_django.pagination``: DRF paginators (imports DRF)
- ``fast_count_django.paginator``: FastCountPaginator for Django's paginator
"""

from .counting import FastCountFallbackWarning, fast_count, forget_extension_state
from .extension import ExtensionMissing
from .queryset import FastCountManager, FastCountQuerySet, FastCountQuerySetMixin
from .registry import refresh, register, unregister
from .statement import CountStatement, count_statement

__all__ = [
    "CountStatement", "ExtensionMissing", "FastCountFallbackWarning", "FastCountManager",
    "FastCountQuerySet", "FastCountQuerySetMixin", "count_statement", "fast_count",
    "forget_extension_state", "refresh", "register", "unregister",
]
