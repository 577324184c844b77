from rest_framework import generics, serializers

from fast_count_django.pagination import FastCountLimitOffsetPagination

from .models import Book


class BookSerializer(serializers.ModelSerializer):
    author = serializers.StringRelatedField()

    class Meta:
        model = Book
        fields = ["id", "title", "author", "pages", "published"]


class BookList(generics.ListAPIView):
    """Paginated by the default paginator (settings: FastCountPageNumberPagination);
    ?published=1, ?min_pages=N and ?q=TEXT filter."""

    serializer_class = BookSerializer

    def get_queryset(self):
        books = Book.objects.select_related("author").order_by("-pages", "id")
        params = self.request.query_params
        if "published" in params:
            books = books.filter(published=params["published"] == "1")
        if "min_pages" in params:
            books = books.filter(pages__gte=int(params["min_pages"]))
        if "q" in params:
            books = books.filter(title__icontains=params["q"])
        return books


class BookListByOffset(BookList):
    pagination_class = FastCountLimitOffsetPagination
