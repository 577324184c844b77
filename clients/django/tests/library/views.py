from rest_framework import generics, pagination, serializers

from fast_count_django.pagination import FastCountLimitOffsetPagination

from .models import Book, LaggingBook, PlainBook


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


class PlainBookList(generics.ListAPIView):
    """DRF's own ListAPIView and PageNumberPagination over a plain
    models.Manager: no fast_count code (test_transparent_drf.py)."""

    serializer_class = BookSerializer
    pagination_class = pagination.PageNumberPagination
    book_model = PlainBook

    def get_queryset(self):
        books = self.book_model.objects.select_related("author").order_by("-pages", "id")
        if "published" in self.request.query_params:
            books = books.filter(published=self.request.query_params["published"] == "1")
        return books


class PlainBookListByOffset(PlainBookList):
    pagination_class = pagination.LimitOffsetPagination


class LaggingBookList(PlainBookList):
    """The same over LaggingBook, whose reads the router sends to the
    connections with fast_count.transparent = registered."""

    book_model = LaggingBook


class LaggingBookListByOffset(LaggingBookList):
    pagination_class = pagination.LimitOffsetPagination
