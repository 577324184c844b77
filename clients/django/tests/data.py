"""A small library whose rows make every filter of the tests match some rows
but not all (so a count that ignores a filter cannot pass)."""

import datetime
import decimal
import uuid

from psycopg2.extras import NumericRange

from .library.models import Author, Book, Novel, Tag

UTC = datetime.timezone.utc
EVIL = "'; DROP TABLE library_book; --"
TRICKY_TITLES = [
    EVIL,
    "50% off",            # LIKE wildcards as plain characters
    "500 pages",
    "snake_case",
    "snakeXcase",
    "%s and %% and $1",   # placeholders of Python and PostgreSQL
    "back\\slash \"quoted\"",
    "Ünïcødé ☃",
]


def isbn(i: int) -> uuid.UUID:
    return uuid.UUID(int=i + 1000)


def create_library() -> None:
    countries = ["fr", "de", "it", "es", "fr", "de"]
    authors = [Author.objects.create(name="author %d" % i, country=countries[i],
                                     born=datetime.date(1950 + 7 * i, 1 + i, 1 + i) if i != 3 else None,
                                     external_id=uuid.UUID(int=i + 1))
               for i in range(6)]
    tags = [Tag.objects.create(name=name) for name in ["sci-fi", "history", "poetry", "kids"]]
    titles = ["book %02d" % i for i in range(40)]
    titles[:len(TRICKY_TITLES)] = TRICKY_TITLES
    for i, title in enumerate(titles):
        novel = i % 10 == 9  # some books are novels (multi-table inheritance)
        book = (Novel if novel else Book).objects.create(
            **({"series": "saga %d" % (i % 3)} if novel else {}),
            title=title,
            author=authors[i % 5],             # the last author has no books
            published=i % 3 != 0,
            published_on=datetime.date(2000 + i % 12, 1 + i % 12, 1 + i % 28) if i % 4 else None,
            created_at=datetime.datetime(2024, 1 + i % 6, 1 + i % 28, i % 24, 30, tzinfo=UTC),
            price=decimal.Decimal("9.99") + i if i % 5 else None,
            rating=i / 8 if i % 6 else None,
            pages=50 + 37 * i,
            reading_time=datetime.timedelta(hours=i % 7, minutes=15) if i % 2 else None,
            isbn=isbn(i) if i % 3 else None,
            cover=bytes([i % 4, 0, 255]) if i % 2 else None,
            metadata={"genre": ["sci-fi", "history", "poetry"][i % 3], "rank": i,
                      "nested": {"level": i % 4}, "flags": ["a", "b"][: i % 3],
                      "maybe": None if i % 2 else i},
            keywords=[["space", "ai"], ["war"], [], ["space", "war", "50%"]][i % 4],
            page_range=NumericRange(i, i + 10) if i % 7 else None,
            server_ip="10.0.0.%d" % (i % 5) if i % 3 else ("2001:db8::%x" % i if i % 2 else None),
        )
        book.tags.set(tags[: i % 5])
