"""Django's own admin over the books, with no fast_count code: its change
list counts through the models' plain managers (test_transparent_admin.py)."""

from django.contrib import admin

from .models import LaggingBook, PlainBook


class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "pages", "published"]
    list_filter = ["published", "tags"]  # tags: an m2m filter, so the admin adds distinct()
    search_fields = ["title"]  # the search form shows "N results (M total)"
    list_per_page = 10         # several pages: the paginator's count decides the links


admin.site.register(PlainBook, BookAdmin)
admin.site.register(LaggingBook, BookAdmin)
