"""A Django Paginator whose count comes from fast_count() (for ListView's
``paginator_class``, or anything built on django.core.paginator)."""

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from .counting import paginated_count


class FastCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            return paginated_count(self.object_list)
        return super().count
