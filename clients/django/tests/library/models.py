import datetime
import uuid

from django.contrib.postgres.fields import ArrayField, IntegerRangeField
from django.db import models

from fast_count_django import FastCountManager


class Author(models.Model):
    name = models.CharField(max_length=100)
    country = models.CharField(max_length=2)
    born = models.DateField(null=True)
    external_id = models.UUIDField(default=uuid.uuid4)

    objects = FastCountManager()


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    objects = FastCountManager()


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, related_name="books", on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag, related_name="books", blank=True)
    published = models.BooleanField(default=False)
    published_on = models.DateField(null=True)
    created_at = models.DateTimeField()
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    rating = models.FloatField(null=True)
    pages = models.IntegerField()
    reading_time = models.DurationField(null=True)
    isbn = models.UUIDField(null=True)
    cover = models.BinaryField(null=True)
    metadata = models.JSONField(default=dict)
    keywords = ArrayField(models.CharField(max_length=30), default=list)
    page_range = IntegerRangeField(null=True)
    server_ip = models.GenericIPAddressField(null=True)

    objects = FastCountManager()
    # Per-manager options (django-fast-count's names).
    cached = FastCountManager(cache_counts_larger_than=0, expire_cached_counts_after=datetime.timedelta(minutes=5),
                              precache_count_every=datetime.timedelta(minutes=2))
    # count() stays Django's unless a queryset asks with .fast().
    exact_objects = FastCountManager(fast_by_default=False)

    class Meta:
        ordering = ["title"]  # a default ordering the count must drop


class Ticket(models.Model):
    """Only used by the registration tests: its counts may come from the
    registered (periodically refreshed) cache entries."""

    subject = models.CharField(max_length=100)
    open = models.BooleanField(default=True)
    opened_at = models.DateTimeField(default=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))

    objects = FastCountManager()

    @classmethod
    def fast_count_querysets(cls):
        return [
            (cls.objects.filter(open=True), datetime.timedelta(seconds=1)),
            (cls.objects.filter(subject__icontains="urgent"), datetime.timedelta(seconds=1)),
        ]


class Novel(Book):
    """Multi-table inheritance: counts join the parent table."""

    series = models.CharField(max_length=50, blank=True)


class PublishedBooks(FastCountManager):
    def get_queryset(self):
        return super().get_queryset().filter(published=True)


class PublishedBook(Book):
    """A proxy whose manager filters."""

    objects = PublishedBooks()

    class Meta:
        proxy = True


class PlainBook(Book):
    """Book as a project with no fast_count code has it: Django's own
    models.Manager (the admin, DRF and count() of test_transparent_*.py)."""

    objects = models.Manager()

    class Meta:
        proxy = True
        verbose_name = "book"


class LaggingBook(Book):
    """The same, its reads routed to the connections that take registered
    counts (settings: DATABASES["registered"], routers.LaggingBooksThere)."""

    objects = models.Manager()

    class Meta:
        proxy = True
        verbose_name = "book"


class Writer(models.Model):
    """A parent whose per-parent count (writer.books.count()) is kept exact
    by one grouped registration (test_grouped.py): no counter column, no
    fast_count code, Django's own managers. A bigint key, as Django's
    BigAutoField default makes them, so the query compares bigint with the
    integer literal Django writes."""

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=100)


class Manuscript(models.Model):
    writer = models.ForeignKey(Writer, related_name="books", null=True, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)

    class Meta:
        ordering = ["title"]  # a default ordering the count must drop
