"""fast_count for Django: cheap ``count()`` from the fast_count PostgreSQL
extension, for querysets, paginators and registered (precached) querysets.

Public API (see README.md):

- ``FastCountManager`` / ``FastCountQuerySet`` / ``FastCountQuerySetMixin``
- ``fast_count(queryset, **options)``: the count of any queryset
- ``count_info(queryset, **options)``: CountInfo(count, counted_at, source, fallback)
- ``CountOptions``: the options managers, querysets and calls take
- ``fallbacks()`` / ``reset_fallbacks()``: counts that fell back, by reason
- ``count_statement(queryset)``: the SQL and parameters fast_count() gets
- ``register`` / ``unregister`` / ``refresh``: precaching
- ``FastCountFallbackWarning``, ``forget_extension_state``
- ``fast_count_django.operations``: CreateFastCountExtension, FastCountRegister
- ``fast_count_django.pagination``: DRF paginators (imports DRF)
- ``fast_count_django.paginator``: FastCountPaginator for Django's paginator
"""

from .counting import (CountInfo, FastCountFallbackWarning, count_info, fallbacks, fast_count,
                       forget_extension_state, reset_fallbacks)
from .extension import ExtensionMissing
from .options import CountOptions
from .queryset import FastCountManager, FastCountQuerySet, FastCountQuerySetMixin
from .registry import refresh, register, unregister
from .statement import CountStatement, count_statement

__version__ = "0.3.0"

__all__ = [
    "CountInfo", "CountOptions", "CountStatement", "ExtensionMissing", "FastCountFallbackWarning",
    "FastCountManager", "FastCountQuerySet", "FastCountQuerySetMixin", "count_info",
    "count_statement", "fallbacks", "fast_count", "forget_extension_state", "refresh", "register",
    "reset_fallbacks", "unregister",
]
