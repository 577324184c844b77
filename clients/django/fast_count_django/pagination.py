"""Django REST framework paginators whose ``count`` comes from fast_count().

In settings::

    REST_FRAMEWORK = {
        "DEFAULT_PAGINATION_CLASS": "fast_count_django.pagination.FastCountPageNumberPagination",
        "PAGE_SIZE": 50,
    }

or ``pagination_class = FastCountLimitOffsetPagination`` on a view. Any
queryset works; its model does not need FastCountManager.
"""

from django.db.models import QuerySet
from rest_framework.pagination import LimitOffsetPagination, PageNumberPagination

from .counting import paginated_count
from .paginator import FastCountPaginator


class FastCountPageNumberPagination(PageNumberPagination):
    django_paginator_class = FastCountPaginator


class FastCountLimitOffsetPagination(LimitOffsetPagination):
    def get_count(self, queryset) -> int:
        if isinstance(queryset, QuerySet):
            return paginated_count(queryset)
        return super().get_count(queryset)
