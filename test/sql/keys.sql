-- The cache key comes from the analyzed query: spellings of one query share
-- one entry; texts that read other relations or other constants do not.
SET fast_count.cache_larger_than = 0;
TRUNCATE fast_count.entries;

CREATE TABLE items (id int, status int, name text);
INSERT INTO items SELECT g, g % 5, 'item ' || g FROM generate_series(1, 1000) g;
CREATE FUNCTION entries_over(rel regclass) RETURNS bigint LANGUAGE sql AS
  $$ SELECT count(*) FROM fast_count_entries WHERE rel = ANY (relations) $$;

-- Whitespace, case, aliases, qualification, literal or parameter: one entry.
SELECT fast_count('SELECT * FROM items WHERE status = 3');
SELECT fast_count('select *   from ITEMS
                   where STATUS=3');
SELECT fast_count('SELECT * FROM items i WHERE i.status = 3');
SELECT fast_count('SELECT * FROM public.items AS x WHERE (x.status = 3)');
SELECT fast_count('SELECT * FROM items WHERE status = $1', ARRAY['3']);
SELECT fast_count('SELECT * FROM items WHERE status = ''3''');
SELECT fast_count('SELECT * FROM items WHERE status = 3 -- a comment');
SELECT entries_over('items') AS entries;

-- Output column names do not change the rows: one more entry, not two.
SELECT fast_count('SELECT id AS a FROM items');
SELECT fast_count('SELECT id AS b FROM items');
SELECT entries_over('items') AS entries;

-- A target list that cannot change how many rows there are is no part of
-- the key: *, other columns, ORDER BY, a count's own row set: one entry.
SELECT fast_count('SELECT * FROM items WHERE status = 1') AS star,
       fast_count('SELECT id FROM items WHERE status = 1') AS id,
       fast_count('SELECT id, name FROM items WHERE status = 1 ORDER BY name') AS id_name,
       fast_count('SELECT 1 FROM items WHERE status = 1') AS one,
       fast_count('SELECT FROM items WHERE status = 1') AS nothing;
SELECT entries_over('items') AS entries;
-- What counts rows keeps its target list: aggregates, DISTINCT, set-returning
-- functions, WITH TIES, UNION; each is an entry of its own.
SELECT fast_count('SELECT count(*) FROM items WHERE status = 1') AS agg,
       fast_count('SELECT DISTINCT name FROM items WHERE status = 1') AS distinct_name,
       fast_count('SELECT generate_series(1, 2) FROM items WHERE status = 1') AS srf,
       fast_count('SELECT id FROM items WHERE status = 1 ORDER BY status FETCH FIRST 1 ROWS WITH TIES') AS ties,
       fast_count('SELECT status FROM items WHERE status = 1 UNION SELECT 1') AS union_status,
       fast_count('SELECT id FROM items WHERE status = 1 UNION SELECT 1') AS union_id;
SELECT entries_over('items') AS entries;

-- Other constants, other LIMITs, other DISTINCT columns: other entries.
SELECT fast_count('SELECT * FROM items WHERE status = 4') AS status_4,
       fast_count('SELECT * FROM items WHERE status = $1', ARRAY['2']) AS status_2,
       fast_count('SELECT * FROM items ORDER BY id LIMIT 5') AS limit_5,
       fast_count('SELECT * FROM items ORDER BY id LIMIT 6') AS limit_6,
       fast_count('SELECT DISTINCT status FROM items') AS distinct_status,
       fast_count('SELECT DISTINCT id FROM items') AS distinct_id;
SELECT entries_over('items') AS entries;

-- The same text under another search_path reads another table.
CREATE SCHEMA other;
CREATE TABLE other.items (id int, status int, name text);
INSERT INTO other.items SELECT g, 3, 'other' FROM generate_series(1, 7) g;
SET search_path = other, public;
SELECT fast_count('SELECT * FROM items WHERE status = 3') AS in_other;
RESET search_path;
SELECT fast_count('SELECT * FROM items WHERE status = 3') AS in_public;
SELECT entries_over('other.items') AS other_entries;

-- ONLY changes what is read when a table has children.
CREATE TABLE items_archive () INHERITS (items);
INSERT INTO items_archive SELECT g, 3, 'old' FROM generate_series(1, 50) g;
SELECT fast_count('SELECT * FROM items WHERE id > 0') AS with_children,
       fast_count('SELECT * FROM ONLY items WHERE id > 0') AS only_parent;

-- A table dropped and created again under the same name is another table:
-- the old count is forgotten when the table is dropped.
CREATE TABLE shortlived (x int);
INSERT INTO shortlived SELECT generate_series(1, 30);
SELECT fast_count('SELECT * FROM shortlived') AS before_drop;
DROP TABLE shortlived;
SELECT count(*) AS entries_left FROM fast_count.entries
 WHERE query = 'SELECT * FROM shortlived';
CREATE TABLE shortlived (x int);
INSERT INTO shortlived SELECT generate_series(1, 3);
SELECT fast_count('SELECT * FROM shortlived') AS after_recreate;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP TABLE items_archive, items, shortlived;
DROP SCHEMA other CASCADE;
DROP FUNCTION entries_over(regclass);
RESET client_min_messages;
