-- fast_count(q) returns what SELECT count(*) FROM (q) returns, for every
-- kind of SELECT. A threshold of 0 caches every count, so the second call of
-- each query is served from the cache and must agree with count(*) too.
SET fast_count.cache_larger_than = 0;

CREATE TABLE authors (id int PRIMARY KEY, name text, country text);
CREATE TABLE books (id int PRIMARY KEY, author_id int REFERENCES authors, year int, pages int);
INSERT INTO authors SELECT g, 'author ' || g, (ARRAY['fr','de','it','es'])[1 + g % 4]
  FROM generate_series(1, 200) g;
INSERT INTO books SELECT g, 1 + g % 150, 1950 + g % 70, 100 + g % 400
  FROM generate_series(1, 5000) g;
CREATE VIEW recent_books AS SELECT * FROM books WHERE year >= 2000;

CREATE TABLE cases (q text);
INSERT INTO cases VALUES
  ('SELECT * FROM books'),
  ('SELECT * FROM books WHERE year BETWEEN 1990 AND 1999'),
  ('SELECT b.* FROM books b JOIN authors a ON a.id = b.author_id WHERE a.country = ''fr'''),
  ('SELECT * FROM authors a LEFT JOIN books b ON b.author_id = a.id'),
  ('SELECT * FROM authors WHERE id IN (SELECT author_id FROM books WHERE pages > 450)'),
  ('SELECT * FROM authors a WHERE NOT EXISTS (SELECT 1 FROM books b WHERE b.author_id = a.id)'),
  ('WITH long AS (SELECT * FROM books WHERE pages > 300) SELECT * FROM long WHERE year < 1980'),
  ('WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 77) SELECT * FROM n'),
  ('SELECT author_id, count(*) FROM books GROUP BY author_id'),
  ('SELECT author_id FROM books GROUP BY author_id HAVING count(*) > 33'),
  ('SELECT DISTINCT year FROM books'),
  ('SELECT DISTINCT ON (author_id) * FROM books ORDER BY author_id, year'),
  ('SELECT * FROM books ORDER BY id LIMIT 10'),
  ('SELECT * FROM books ORDER BY id LIMIT 10 OFFSET 4995'),
  ('SELECT * FROM books ORDER BY year FETCH FIRST 3 ROWS WITH TIES'),
  ('SELECT year FROM books UNION SELECT id FROM authors'),
  ('SELECT year FROM books UNION ALL SELECT id FROM authors'),
  ('SELECT year FROM books INTERSECT SELECT id FROM authors'),
  ('SELECT year FROM books EXCEPT SELECT id FROM authors'),
  ('SELECT * FROM recent_books'),
  ('SELECT * FROM (VALUES (1), (2), (3)) v(x)'),
  ('VALUES (1), (2)'),
  ('TABLE authors'),
  ('SELECT generate_series(1, 12)'),
  ('SELECT count(*) FROM books'),
  ('SELECT * FROM books WHERE false'),
  ('SELECT 1'),
  ('SELECT id, rank() OVER (PARTITION BY author_id ORDER BY year) FROM books'),
  ('SELECT * FROM books b, LATERAL (SELECT * FROM authors a WHERE a.id = b.author_id LIMIT 1) x'),
  ('SELECT * FROM books;'),
  -- count(*) does not compute unused output columns, and neither does fast_count
  ('SELECT 1 / 0'),
  ('  -- a leading comment
   SELECT * FROM books WHERE pages < 150 -- and a trailing one');

CREATE FUNCTION expected_count(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE 'SELECT count(*) FROM (' || rtrim(q, ';') || E'\n) s' INTO n;
  RETURN n;
END $$;

SELECT q, expected_count(q) AS count_star,
       fast_count(q) AS first_call, fast_count(q) AS second_call
  FROM cases ORDER BY q;
SELECT count(*) AS mismatches FROM cases
 WHERE fast_count(q) IS DISTINCT FROM expected_count(q);

-- Parameters: the values of $1..$n, as text, typed by how the query uses them.
SELECT fast_count('SELECT * FROM books WHERE year = $1 AND pages > $2', ARRAY['1999', '200']) AS with_params,
       (SELECT count(*) FROM books WHERE year = 1999 AND pages > 200) AS count_star;
SELECT fast_count('SELECT * FROM authors WHERE country = $1', ARRAY['de']) AS de,
       fast_count('SELECT * FROM authors WHERE country = ANY ($1)', ARRAY['{de,fr}']) AS de_fr;
SELECT fast_count('SELECT * FROM books WHERE $1::int IS NULL', ARRAY[NULL]) AS null_param,
       fast_count('SELECT $1', ARRAY['an untyped parameter reads as text']) AS untyped,
       fast_count('SELECT * FROM authors WHERE concat(name, $1) = $2', ARRAY['!', 'author 7!']) AS typed_by_nothing,
       fast_count('SELECT * FROM authors WHERE id = $2', ARRAY['unused', '7']) AS unused_param;
SELECT fast_count('SELECT * FROM books', ARRAY[]::text[]) AS no_params,
       fast_count('SELECT * FROM books', NULL) AS null_params;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP VIEW recent_books;
DROP TABLE cases, books, authors;
DROP FUNCTION expected_count(text);
RESET client_min_messages;
