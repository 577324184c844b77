"""A queryset and manager whose count() comes from fast_count(), with
per-manager and per-queryset options.

    class Book(models.Model):
        objects = FastCountManager(cache_counts_larger_than=10_000,
                                   expire_cached_counts_after=timedelta(minutes=2))
        exact = FastCountManager(fast_by_default=False)   # count() stays Django's

    Book.objects.filter(...).count()              # fast, with the manager's options
    Book.objects.filter(...).exact().count()      # Django's count()
    Book.exact.filter(...).fast().count()         # fast, asked for
    Book.objects.fast(cache_counts_larger_than=0).count()   # options for this queryset
    Book.objects.filter(...).count_info()         # count, counted_at, source
"""

from django.db import models
from django.utils import timezone

from .counting import CountInfo, count_info, fast_count, plain_count
from .options import DEFAULT, CountOptions

# What a queryset's count() is: fast_count() or Django's own.
FAST, EXACT = "fast", "exact"


class FastCountQuerySetMixin:
    """Mix into your own QuerySet class to get fast counts."""

    _fast_count_options = DEFAULT
    _fast_count_mode = FAST

    def _clone(self, *args, **kwargs):
        clone = super()._clone(*args, **kwargs)
        clone._fast_count_options = self._fast_count_options
        clone._fast_count_mode = self._fast_count_mode
        return clone

    def _with(self, mode, options):
        clone = self._chain()
        clone._fast_count_mode = mode
        clone._fast_count_options = self._fast_count_options.merged(**options)
        return clone

    def fast(self, **options):
        """This queryset, counted by fast_count() (``count()``), with these
        options (see options.CountOptions) over the ones it has."""
        return self._with(FAST, options)

    def exact(self):
        """This queryset, counted by Django's own count(): for code that
        decides something on the count."""
        return self._with(EXACT, {})

    def count(self) -> int:
        if self._fast_count_mode == EXACT:
            return plain_count(self)
        return fast_count(self)

    def count_info(self, **options):
        """count(), with when it was counted and where it came from
        (counting.CountInfo)."""
        if self._fast_count_mode == EXACT:
            count = plain_count(self)
            return CountInfo(count, timezone.now(), "live")
        return count_info(self, **options)

    def exact_count(self) -> int:
        """Django's own count(): never from the cache, so it includes rows
        written since the cached count (and by this very transaction)."""
        return plain_count(self)


class FastCountQuerySet(FastCountQuerySetMixin, models.QuerySet):
    pass


class FastCountManager(models.Manager.from_queryset(FastCountQuerySet)):
    """``objects = FastCountManager(...)``: ``Model.objects.filter(...).count()``
    (and related managers of the model, if it is the default manager) count
    with fast_count().

    ``precache_count_every``, ``cache_counts_larger_than``,
    ``cache_counts_slower_than``, ``expire_cached_counts_after``,
    ``estimate_on_miss``: see options.CountOptions. ``fast_by_default=False``
    leaves count() Django's own unless a queryset asks with ``.fast()``.
    A related manager (``author.books``) has the options of the model's
    default manager."""

    def __init__(self, *, fast_by_default: bool = True, **options):
        super().__init__()
        self._fast_count_explicit = bool(options) or not fast_by_default
        self._fast_count_options = CountOptions(**options)
        self._fast_count_mode = FAST if fast_by_default else EXACT

    def _fast_count_source(self):
        # Related managers are subclasses made by Django and built without
        # arguments: they take after the model's default manager.
        if self._fast_count_explicit or "core_filters" not in self.__dict__:
            return self
        default = getattr(self.model, "_default_manager", None)
        return default if isinstance(default, FastCountManager) else self

    @property
    def fast_count_options(self) -> CountOptions:
        return self._fast_count_source()._fast_count_options

    def get_queryset(self):
        queryset = super().get_queryset()
        source = self._fast_count_source()
        queryset._fast_count_options = source._fast_count_options
        queryset._fast_count_mode = source._fast_count_mode
        return queryset
