from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("books/", views.BookList.as_view()),
    path("books-by-offset/", views.BookListByOffset.as_view()),
    path("plain-books/", views.PlainBookList.as_view()),
    path("plain-books-by-offset/", views.PlainBookListByOffset.as_view()),
    path("lagging-books/", views.LaggingBookList.as_view()),
    path("lagging-books-by-offset/", views.LaggingBookListByOffset.as_view()),
    path("admin/", admin.site.urls),
]
