"""Per-manager and per-queryset counting options, named as django-fast-count
names them, mapped onto the extension's user settings for one call.

The thresholds and the expiry only decide whether a count is kept and how
long a reader accepts one (``fast_count.cache_larger_than``,
``fast_count.cache_slower_than``, ``fast_count.expire_after``): they change
no count, so a count kept under one manager's options means the same to
every other reader. ``precache_count_every`` is the ``refresh_every`` of the
model's registered querysets that do not give one.
"""

import datetime
from dataclasses import dataclass, fields, replace
from typing import List, Optional, Tuple, Union

Interval = Union[datetime.timedelta, int, float]   # a timedelta, or seconds


def _seconds(value: Interval, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a timedelta or a number of seconds, not %r" % (name, value))
    return float(seconds)


def _interval(value: Optional[Interval], name: str) -> Optional[datetime.timedelta]:
    if value is None:
        return None
    seconds = _seconds(value, name)
    if seconds < 1:
        raise ValueError("%s must be at least one second, not %r" % (name, value))
    return datetime.timedelta(seconds=seconds)


@dataclass(frozen=True)
class CountOptions:
    """None means: the database's setting applies."""

    cache_counts_larger_than: Optional[int] = None          # rows
    cache_counts_slower_than: Optional[Interval] = None     # a count slower than this is kept
    expire_cached_counts_after: Optional[Interval] = None   # how long a kept count is served
    precache_count_every: Optional[Interval] = None         # refresh_every of registrations
    estimate_on_miss: Optional[bool] = None                 # answer a cold miss with the estimate

    def __post_init__(self):
        rows = self.cache_counts_larger_than
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
            raise ValueError("cache_counts_larger_than must be a number of rows >= 0, not %r" % rows)
        if self.cache_counts_slower_than is not None:
            _seconds(self.cache_counts_slower_than, "cache_counts_slower_than")
        _interval(self.expire_cached_counts_after, "expire_cached_counts_after")
        _interval(self.precache_count_every, "precache_count_every")
        if self.estimate_on_miss is not None and not isinstance(self.estimate_on_miss, bool):
            raise TypeError("estimate_on_miss must be True, False or None")

    def merged(self, **overrides) -> "CountOptions":
        """These options with the non-None ``overrides`` replacing them."""
        unknown = set(overrides) - NAMES
        if unknown:
            raise TypeError("unknown fast_count option(s): %s" % ", ".join(sorted(unknown)))
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def refresh_every(self) -> Optional[datetime.timedelta]:
        return _interval(self.precache_count_every, "precache_count_every")

    def settings(self) -> List[Tuple[str, str]]:
        """(setting, value) pairs for set_config() around one call."""
        out = []
        if self.cache_counts_larger_than is not None:
            out.append(("fast_count.cache_larger_than", str(self.cache_counts_larger_than)))
        if self.cache_counts_slower_than is not None:
            ms = _seconds(self.cache_counts_slower_than, "cache_counts_slower_than") * 1000
            out.append(("fast_count.cache_slower_than", "-1" if ms < 0 else "%dms" % round(ms)))
        if self.expire_cached_counts_after is not None:
            every = _interval(self.expire_cached_counts_after, "expire_cached_counts_after")
            out.append(("fast_count.expire_after", "%ds" % round(every.total_seconds())))
        if self.estimate_on_miss is not None:
            out.append(("fast_count.estimate_on_miss", "on" if self.estimate_on_miss else "off"))
        return out


NAMES = frozenset(field.name for field in fields(CountOptions))
DEFAULT = CountOptions()
