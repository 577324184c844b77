"""A queryset and manager whose count() comes from fast_count()."""

from django.db import models

from .counting import fast_count, plain_count


class FastCountQuerySetMixin:
    """Mix into your own QuerySet class to get fast counts."""

    def count(self) -> int:
        return fast_count(self)

    def exact_count(self) -> int:
        """Django's own count(): never from the cache, so it includes rows
        written since the cached count (and by this very transaction)."""
        return plain_count(self)


class FastCountQuerySet(FastCountQuerySetMixin, models.QuerySet):
    pass


class FastCountManager(models.Manager.from_queryset(FastCountQuerySet)):
    """``objects = FastCountManager()``: ``Model.objects.filter(...).count()``
    (and related managers of the model, if it is the default manager) count
    with fast_count()."""
