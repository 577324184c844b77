-- Grouped exact counts: fast_count_register(q, mode => 'exact', group_by => ...)
-- keeps one exact count per group; fast_count() of q AND col = v (IN, IS
-- NULL, $n) and fast_count_groups(q) are served from them. Every check
-- compares with count(*) or GROUP BY in the same statement (one snapshot).
TRUNCATE fast_count.entries;
SET client_min_messages = warning;
-- The count(*) every check compares with is the real one, not one that
-- transparent mode answers from the same registration.
SET fast_count.transparent = off;

CREATE TABLE book (id serial PRIMARY KEY, author_id bigint, status int NOT NULL,
                   lang text, price numeric, title text);
INSERT INTO book (author_id, status, lang, price, title)
  SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE g % 7 END, g % 3, (ARRAY['en', 'fr', 'de'])[g % 3 + 1],
         g, 'book ' || g
    FROM generate_series(1, 700) g;

-- Every group of q's registration (by group_by, one column) against GROUP BY,
-- and fast_count() of each group (= v, or IS NULL) against count(*).
CREATE FUNCTION groups_exact(q text, col text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE listed text; real text; bad int := 0; v text; fc bigint; cs bigint; n int := 0;
BEGIN
  EXECUTE format($f$SELECT (SELECT string_agg(coalesce(key[1], 'NULL') || ':' || count, ','
                                             ORDER BY coalesce(key[1], 'NULL'))
                              FROM fast_count_groups(%L)),
                           (SELECT string_agg(coalesce(g::text, 'NULL') || ':' || c, ','
                                             ORDER BY coalesce(g::text, 'NULL'))
                              FROM (SELECT %I AS g, count(*) AS c FROM (%s) s GROUP BY 1) t)$f$,
                 q, col, q) INTO listed, real;
  IF listed IS DISTINCT FROM real THEN
    RETURN format('WRONG groups: %s vs %s', listed, real);
  END IF;
  FOR v IN EXECUTE format('SELECT DISTINCT %I::text FROM book', col) LOOP
    n := n + 1;
    IF v IS NULL THEN
      EXECUTE format('SELECT fast_count(%L), (SELECT count(*) FROM (%s) s WHERE %I IS NULL)',
                     q || ' AND ' || col || ' IS NULL', q, col) INTO fc, cs;
    ELSE
      EXECUTE format('SELECT fast_count(%L), (SELECT count(*) FROM (%s) s WHERE %I::text = %L)',
                     q || ' AND ' || col || ' = ' || quote_literal(v), q, col, v) INTO fc, cs;
    END IF;
    IF fc <> cs THEN bad := bad + 1; RAISE NOTICE 'group %: % vs %', v, fc, cs; END IF;
  END LOOP;
  RETURN CASE WHEN bad = 0 THEN format('ok %s groups', n) ELSE format('WRONG %s groups', bad) END;
END $$;
-- Settles q's exact count now (or waits for the worker doing it).
CREATE FUNCTION settled(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
  FOR i IN 1..100 LOOP
    PERFORM fast_count._exact_settle(key) FROM fast_count_entries WHERE query = q;
    SELECT exact_state INTO s FROM fast_count_entries WHERE query = q;
    EXIT WHEN s = 'ready';
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN s;
END $$;
-- Hits of the entries served from (grouped registrations count theirs).
CREATE FUNCTION grouped_hits() RETURNS bigint LANGUAGE sql AS
  $$ SELECT coalesce(sum(hits), 0) FROM fast_count_entries WHERE mode = 'exact' $$;
-- The SQLSTATE and message of a failed grouped registration.
CREATE FUNCTION try_grouped(q text, cols text[], m text DEFAULT 'exact') RETURNS text LANGUAGE plpgsql AS $$
DECLARE state text; msg text;
BEGIN
  PERFORM fast_count_register(q, mode => m, group_by => cols);
  RETURN 'registered';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
  RETURN state || ' ' || msg;
END $$;

-- What is refused, with its SQLSTATE.
SELECT try_grouped('SELECT * FROM book', ARRAY['author_id'], 'periodic') AS periodic;
SELECT try_grouped('SELECT * FROM book', ARRAY['nope']) AS unknown_column;
SELECT try_grouped('SELECT * FROM book', ARRAY['author_id', 'author_id']) AS twice;
SELECT try_grouped('SELECT * FROM book', ARRAY['author_id', NULL]) AS null_name;
SELECT try_grouped('SELECT * FROM book', ARRAY[]::text[]) AS no_columns;
SELECT try_grouped('SELECT * FROM book', ARRAY['a','b','c','d','e','f','g','h','i']) AS nine;
SELECT try_grouped('SELECT * FROM book', ARRAY['ctid']) AS system_column;
CREATE TABLE spans (id int, span interval);
SELECT try_grouped('SELECT * FROM spans', ARRAY['span']) AS interval_column;
DROP TABLE spans;
SELECT try_grouped('SELECT * FROM book', ARRAY[['author_id'], ['status']]) AS two_dimensions;
SELECT try_grouped('SELECT * FROM book b JOIN book c USING (id)', ARRAY['author_id']) AS join_query;
SELECT try_grouped('SELECT * FROM book WHERE random() > 0.5', ARRAY['author_id']) AS volatile_query;
SELECT count(*) AS registered FROM fast_count_entries;

-- A count of one group cached before the registration (and its text's
-- memo) give way to the exact count once it is registered.
SET fast_count.cache_larger_than = 0;
SELECT fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 3') AS cached_before;
RESET fast_count.cache_larger_than;

-- One registration, every group.
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM book WHERE status = 1',
       mode => 'exact', group_by => ARRAY['author_id'])) AS state;
SELECT query, mode, exact_state FROM fast_count_entries ORDER BY query;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS established;
SELECT * FROM fast_count_groups('SELECT * FROM book WHERE status = 1') ORDER BY key;

-- The spellings served from the groups (the hits say so), and the same
-- numbers as count(*).
SELECT grouped_hits() AS hits_before \gset
SELECT fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 3') = count(*) FILTER (WHERE status = 1 AND author_id = 3) AS equal_literal,
       fast_count('SELECT id FROM book WHERE author_id = 3 AND status = 1') = count(*) FILTER (WHERE status = 1 AND author_id = 3) AS group_condition_first,
       fast_count('SELECT * FROM book WHERE status = 1 AND 3 = author_id') = count(*) FILTER (WHERE status = 1 AND author_id = 3) AS constant_first,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 3::bigint') = count(*) FILTER (WHERE status = 1 AND author_id = 3) AS same_type,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 3::smallint') = count(*) FILTER (WHERE status = 1 AND author_id = 3) AS smallint,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = $1', ARRAY['3']) = count(*) FILTER (WHERE status = 1 AND author_id = 3) AS param,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id IN (3, 4, 4, NULL)') = count(*) FILTER (WHERE status = 1 AND author_id IN (3, 4)) AS in_list,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = ANY (ARRAY[5, 6])') = count(*) FILTER (WHERE status = 1 AND author_id IN (5, 6)) AS any_array,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id IS NULL') = count(*) FILTER (WHERE status = 1 AND author_id IS NULL) AS null_group,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 999') = 0 AS empty_group
  FROM book;
SELECT grouped_hits() - :hits_before AS hits;
-- Not a group of the registration: counted as any query (no hit), right.
SELECT grouped_hits() AS hits_before \gset
SELECT fast_count('SELECT * FROM book WHERE status = 1 AND author_id > 3') = count(*) FILTER (WHERE status = 1 AND author_id > 3) AS range,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 3 AND author_id = 4') = 0 AS two_values,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = NULL') = 0 AS equals_null,
       fast_count('SELECT * FROM book WHERE status = 2 AND author_id = 3') = count(*) FILTER (WHERE status = 2 AND author_id = 3) AS other_predicate,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 3.0') = count(*) FILTER (WHERE status = 1 AND author_id = 3) AS numeric_literal,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 3 AND title <> ''x''') = count(*) FILTER (WHERE status = 1 AND author_id = 3) AS more_conditions
  FROM book;
SELECT grouped_hits() - :hits_before AS hits;
-- A user's function that says it is immutable is not run to name a group
-- (it could lie): the count is the statement's own, not a group's.
CREATE FUNCTION lying_three() RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN 3; END $$;
SELECT grouped_hits() AS hits_before \gset
SELECT fast_count('SELECT * FROM book WHERE status = 1 AND author_id = lying_three()') = count(*) AS user_function
  FROM book WHERE status = 1 AND author_id = 3;
SELECT grouped_hits() - :hits_before AS hits;
DROP FUNCTION lying_three();

-- Writes: rows entering and leaving the predicate, moving between groups,
-- groups appearing and vanishing, NULLs; all seen at once, exactly.
INSERT INTO book (author_id, status, title) VALUES (3, 1, 'new'), (100, 1, 'new author'), (NULL, 1, 'anonymous');
UPDATE book SET author_id = 4 WHERE author_id = 3 AND id % 2 = 0;          -- moves between groups
UPDATE book SET status = 1 WHERE status = 2 AND author_id = 5;              -- enters the predicate
UPDATE book SET status = 0 WHERE status = 1 AND author_id = 6 AND id < 300; -- leaves it
UPDATE book SET author_id = NULL WHERE author_id = 2 AND id < 200;          -- into the NULL group
UPDATE book SET author_id = 200, status = 1 WHERE author_id = 1 AND status = 0; -- both at once
DELETE FROM book WHERE author_id = 0;                                       -- a group vanishes
UPDATE book SET title = 'renamed' WHERE author_id = 4;                      -- changes nothing
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS after_writes;
SELECT fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 3') = count(*) AS cached_gives_way
  FROM book WHERE status = 1 AND author_id = 3;
SELECT count(*) AS group_zero_listed FROM fast_count_groups('SELECT * FROM book WHERE status = 1') WHERE key = ARRAY['0'];

-- A transaction sees its own writes; savepoints and rollbacks count for
-- nothing (also in fast_count_groups()).
BEGIN;
INSERT INTO book (author_id, status) SELECT 7, 1 FROM generate_series(1, 5);
SAVEPOINT s;
UPDATE book SET author_id = 8 WHERE author_id = 7;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS in_savepoint;
ROLLBACK TO s;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS after_rollback_to;
SAVEPOINT t;
DELETE FROM book WHERE author_id = 7 AND title IS NULL;
RELEASE t;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS after_release;
ROLLBACK;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS after_rollback;
DO $$
BEGIN
  INSERT INTO book (author_id, status) VALUES (9, 1);
  BEGIN
    INSERT INTO book (author_id, status) VALUES (9, 1);
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
END $$;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS plpgsql_exception_block;

-- Two-phase commit.
BEGIN;
INSERT INTO book (author_id, status) VALUES (10, 1), (10, 1);
PREPARE TRANSACTION 'grouped_1';
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS prepared;
COMMIT PREPARED 'grouped_1';
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS committed_prepared;

-- Folding keeps the counts and leaves one row per non-empty group (plus
-- the registration's own).
SELECT fast_count._exact_fold(key) > 0 AS folded FROM fast_count_entries WHERE mode = 'exact';
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS after_fold;
SELECT (SELECT count(*) FROM fast_count.exact_deltas) =
       (SELECT count(DISTINCT author_id) + count(DISTINCT 1) FILTER (WHERE author_id IS NULL) + 1
          FROM book WHERE status = 1) AS one_row_per_group;

-- Transparent count(*): literal, prepared with changing parameters (generic
-- plans too), a plan cached in PL/pgSQL; EXPLAIN says where it came from.
-- (The counts it is compared with are count(*) FILTER, never intercepted.)
SET fast_count.transparent = exact;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM book WHERE status = 1 AND author_id = 4;
PREPARE by_author(bigint) AS SELECT count(*) FROM book WHERE status = 1 AND author_id = $1;
SET plan_cache_mode = force_generic_plan;
SELECT (SELECT count(*) FROM book WHERE status = 1 AND author_id = 4) AS real \gset
EXECUTE by_author(4);
SELECT :real AS expected;
INSERT INTO book (author_id, status) VALUES (4, 1);
EXECUTE by_author(4);
EXECUTE by_author(5);
SELECT count(*) FILTER (WHERE author_id = 5) AS expected FROM book WHERE status = 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE by_author(5);
RESET plan_cache_mode;
CREATE FUNCTION count_by_author(a bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RETURN (SELECT count(*) FROM book WHERE status = 1 AND author_id = a); END $$;
SELECT count_by_author(4) = count(*) FILTER (WHERE author_id = 4) AS plpgsql_4,
       count_by_author(5) = count(*) FILTER (WHERE author_id = 5) AS plpgsql_5
  FROM book WHERE status = 1;
BEGIN;
INSERT INTO book (author_id, status) VALUES (5, 1);
SELECT count_by_author(5) = count(*) FILTER (WHERE author_id = 5) AS own_write
  FROM book WHERE status = 1;
ROLLBACK;
SET fast_count.transparent = off;

-- TRUNCATE: rolled back changes nothing; committed, every group restarts.
BEGIN;
TRUNCATE book;
SELECT fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 4') AS in_truncate;
ROLLBACK;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS truncate_rolled_back;
BEGIN;
INSERT INTO book (author_id, status) VALUES (4, 1);
TRUNCATE book;
INSERT INTO book (author_id, status) VALUES (4, 1), (4, 1), (11, 1);
SELECT * FROM fast_count_groups('SELECT * FROM book WHERE status = 1') ORDER BY key;
COMMIT;
SELECT * FROM fast_count_groups('SELECT * FROM book WHERE status = 1') ORDER BY key;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS after_truncate;

-- Several columns, of text too; a query without WHERE.
INSERT INTO book (author_id, status, lang)
  SELECT g % 4, g % 2, (ARRAY['en', 'fr', NULL])[g % 3 + 1] FROM generate_series(1, 200) g;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM book',
       mode => 'exact', group_by => ARRAY['lang', 'status'])) AS state;
SELECT * FROM fast_count_groups('SELECT * FROM book') ORDER BY key;
SELECT (SELECT string_agg(key::text || count, ',' ORDER BY key) FROM fast_count_groups('SELECT * FROM book')) =
       (SELECT string_agg(ARRAY[lang, status::text]::text || c, ',' ORDER BY ARRAY[lang, status::text])
          FROM (SELECT lang, status, count(*) c FROM book GROUP BY 1, 2) t) AS two_columns_listed;
-- Without a WHERE clause an UPDATE still moves rows between groups.
UPDATE book SET status = 1 - status WHERE lang = 'en' AND id % 2 = 0;
UPDATE book SET lang = 'fr' WHERE lang IS NULL AND id % 3 = 0;
SELECT (SELECT string_agg(key::text || count, ',' ORDER BY key) FROM fast_count_groups('SELECT * FROM book')) =
       (SELECT string_agg(ARRAY[lang, status::text]::text || c, ',' ORDER BY ARRAY[lang, status::text])
          FROM (SELECT lang, status, count(*) c FROM book GROUP BY 1, 2) t) AS updates_move_groups;
SELECT fast_count('SELECT * FROM book WHERE lang = ''fr'' AND status = 1') = count(*) FILTER (WHERE lang = 'fr' AND status = 1) AS text_and_int,
       fast_count('SELECT * FROM book WHERE status = 0 AND lang IS NULL') = count(*) FILTER (WHERE status = 0 AND lang IS NULL) AS null_text,
       fast_count('SELECT * FROM book WHERE lang IN (''en'', ''fr'') AND status IN (0, 1)') = count(*) FILTER (WHERE lang IN ('en', 'fr')) AS cross_product,
       fast_count('SELECT * FROM book WHERE lang = ''fr''') = count(*) FILTER (WHERE lang = 'fr') AS one_of_two_columns
  FROM book;
-- Two registrations of one text: fast_count_groups() needs to be told which.
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM book',
       mode => 'exact', group_by => ARRAY['author_id'])) AS state;
SELECT count(*) FROM fast_count_groups('SELECT * FROM book');
SELECT count(*) = (SELECT count(DISTINCT coalesce(author_id, -1)) FROM book) AS by_author
  FROM fast_count_groups('SELECT * FROM book', group_by => ARRAY['author_id']);
SELECT count(*) FROM fast_count_groups('SELECT * FROM book WHERE status = 2');
SELECT count(*) FROM fast_count_groups(NULL);
SELECT count(*) FROM fast_count_groups('SELECT * FROM book', group_by => ARRAY[NULL]::text[]);
SELECT count(*) FROM fast_count_groups('DELETE FROM book');
SELECT count(*) FROM fast_count_groups('SELECT * FROM book', group_by => ARRAY['title']);

-- Partitions: writes through the parent and straight into a partition,
-- updates that move rows across partitions and groups.
CREATE TABLE sale (region text NOT NULL, shop int, amount int) PARTITION BY LIST (region);
CREATE TABLE sale_eu PARTITION OF sale FOR VALUES IN ('eu');
CREATE TABLE sale_us (amount int, shop int, region text NOT NULL);  -- other column order
ALTER TABLE sale ATTACH PARTITION sale_us FOR VALUES IN ('us');
INSERT INTO sale SELECT (ARRAY['eu', 'us'])[g % 2 + 1], g % 5, g FROM generate_series(1, 100) g;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM sale WHERE amount > 10',
       mode => 'exact', group_by => ARRAY['shop'])) AS state;
INSERT INTO sale_us VALUES (50, 7, 'us');
UPDATE sale SET region = 'eu', shop = 8 WHERE region = 'us' AND shop = 1;
UPDATE sale_eu SET amount = 5 WHERE shop = 2;
DELETE FROM sale_us WHERE shop = 3;
SELECT (SELECT string_agg(key[1] || ':' || count, ',' ORDER BY key[1]::int) FROM fast_count_groups('SELECT * FROM sale WHERE amount > 10')) =
       (SELECT string_agg(shop || ':' || c, ',' ORDER BY shop) FROM (SELECT shop, count(*) c FROM sale WHERE amount > 10 GROUP BY 1) t) AS partitions_listed,
       fast_count('SELECT * FROM sale WHERE amount > 10 AND shop = 8') = (SELECT count(*) FROM sale WHERE amount > 10 AND shop = 8) AS moved_group;

-- Privileges: a role that cannot read the table learns nothing.
CREATE ROLE grouped_reader;
GRANT USAGE ON SCHEMA fast_count TO grouped_reader;
SET ROLE grouped_reader;
SELECT fast_count_groups('SELECT * FROM book WHERE status = 1');
SELECT fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 4');
SELECT count(*) FROM book WHERE status = 1 AND author_id = 4;
RESET ROLE;
-- Nor about the group columns it cannot read.
GRANT SELECT (status) ON book TO grouped_reader;
SET ROLE grouped_reader;
SELECT count(*) FROM fast_count_groups('SELECT status FROM book WHERE status = 1');
SELECT fast_count('SELECT status FROM book WHERE status = 1 AND author_id = 4');
RESET ROLE;
GRANT SELECT (author_id) ON book TO grouped_reader;
SET ROLE grouped_reader;
SELECT count(*) > 0 AS listed FROM fast_count_groups('SELECT status FROM book WHERE status = 1');
RESET ROLE;
REVOKE SELECT (status, author_id) ON book FROM grouped_reader;

-- Adding a column changes the key of SELECT *: the grouped registration
-- follows its text and is counted again; the counts stay exact.
ALTER TABLE book ADD COLUMN note text;
SELECT settled('SELECT * FROM book WHERE status = 1') AS state;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS after_alter;
-- A group column's type changes: counted again from the text, by the
-- worker, at the same key. The worker has restored a registration's
-- placeholder setting first: what it restored for one registration does
-- not leak into the keys of the others it reads again.
CREATE TABLE tenant_note AS SELECT generate_series(1, 10) AS id;
SET myapp.tenant = 'acme';
SELECT fast_count_register('SELECT * FROM tenant_note', '1 second') IS NOT NULL AS registered;
RESET myapp.tenant;
CREATE FUNCTION worker_done(q text, want text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..300 LOOP
    IF EXISTS (SELECT 1 FROM fast_count_entries WHERE query = q AND
               (CASE want WHEN 'counted' THEN count IS NOT NULL ELSE exact_state = want END)) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN false;
END $$;
SELECT worker_done('SELECT * FROM tenant_note', 'counted') AS placeholder_restored;
SELECT key AS key_before FROM fast_count_entries WHERE query = 'SELECT * FROM book WHERE status = 1' \gset
ALTER TABLE book ALTER COLUMN author_id TYPE int;
SELECT worker_done('SELECT * FROM book WHERE status = 1', 'ready') AS worker_counted;
SELECT key = :'key_before' AS same_key FROM fast_count_entries WHERE query = 'SELECT * FROM book WHERE status = 1';
SELECT fast_count_unregister('SELECT * FROM tenant_note');
DROP TABLE tenant_note;
SELECT groups_exact('SELECT * FROM book WHERE status = 1', 'author_id') AS after_retype;

-- Row-level security turned on after the registration: what a role sees
-- is counted as that role, live, never from the groups.
GRANT SELECT ON book TO grouped_reader;
CREATE POLICY only_four ON book FOR SELECT TO grouped_reader USING (author_id = 4);
ALTER TABLE book ENABLE ROW LEVEL SECURITY;
SET ROLE grouped_reader;
SELECT * FROM fast_count_groups('SELECT * FROM book WHERE status = 1');
SELECT fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 5') AS other_author,
       fast_count('SELECT * FROM book WHERE status = 1 AND author_id = 4') = count(*) AS own_author
  FROM book WHERE status = 1;
RESET ROLE;
ALTER TABLE book DISABLE ROW LEVEL SECURITY;
DROP POLICY only_four ON book;
REVOKE SELECT ON book FROM grouped_reader;

-- numeric and float groups: equal values that differ in their bytes (1,
-- 1.0 and 1.00; 0 and -0; every NaN) are one group, as GROUP BY has them,
-- listed in their canonical form.
CREATE TABLE measure (id serial, price numeric, ratio float8, small float4);
INSERT INTO measure (price, ratio, small) VALUES
  (1, 0, 0), (1.0, '-0', '-0'), (1.00, 'NaN', 'NaN'), (2.5, 'NaN'::float8 * 0, 'Infinity'),
  (2.50, 1.5, 1.5), ('NaN', '-0', '-Infinity'), (NULL, NULL, NULL), (10, 1e300, 3.25);
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM measure', mode => 'exact',
                                                    group_by => ARRAY['price'])) AS by_price,
       fast_count._exact_settle(fast_count_register('SELECT * FROM measure WHERE price > 0', mode => 'exact',
                                                    group_by => ARRAY['ratio'])) AS by_ratio,
       fast_count._exact_settle(fast_count_register('SELECT * FROM measure', mode => 'exact',
                                                    group_by => ARRAY['small'])) AS by_small;
CREATE FUNCTION canonical_groups() RETURNS TABLE(what text, listed text, grouped text) LANGUAGE sql AS $$
  SELECT 'price', (SELECT string_agg(coalesce(key[1], 'NULL') || ':' || count, ' ' ORDER BY key[1]::numeric NULLS FIRST)
                     FROM fast_count_groups('SELECT * FROM measure', group_by => ARRAY['price'])),
                  (SELECT string_agg(coalesce(g::text, 'NULL') || ':' || c, ' ' ORDER BY g NULLS FIRST)
                     FROM (SELECT trim_scale(price) g, count(*) c FROM measure GROUP BY 1) s)
  UNION ALL
  SELECT 'ratio', (SELECT string_agg(coalesce(key[1], 'NULL') || ':' || count, ' ' ORDER BY key[1]::float8 NULLS FIRST)
                     FROM fast_count_groups('SELECT * FROM measure WHERE price > 0', group_by => ARRAY['ratio'])),
                  (SELECT string_agg(coalesce(g::text, 'NULL') || ':' || c, ' ' ORDER BY g NULLS FIRST)
                     FROM (SELECT ratio + 0 g, count(*) c FROM measure WHERE price > 0 GROUP BY 1) s)
  UNION ALL
  SELECT 'small', (SELECT string_agg(coalesce(key[1], 'NULL') || ':' || count, ' ' ORDER BY key[1]::float4 NULLS FIRST)
                     FROM fast_count_groups('SELECT * FROM measure', group_by => ARRAY['small'])),
                  (SELECT string_agg(coalesce(g::text, 'NULL') || ':' || c, ' ' ORDER BY g NULLS FIRST)
                     FROM (SELECT small + 0 g, count(*) c FROM measure GROUP BY 1) s)
$$;
SELECT what, listed, listed = grouped AS same FROM canonical_groups();
SELECT grouped_hits() AS hits_before \gset
SELECT fast_count('SELECT * FROM measure WHERE price = 1.000') = count(*) FILTER (WHERE price = 1) AS one,
       fast_count('SELECT * FROM measure WHERE price IN (1, 2.5)') = count(*) FILTER (WHERE price IN (1, 2.5)) AS in_list,
       fast_count('SELECT * FROM measure WHERE price = ''NaN''') = count(*) FILTER (WHERE price = 'NaN') AS nan,
       fast_count('SELECT * FROM measure WHERE price > 0 AND ratio = 0') = count(*) FILTER (WHERE price > 0 AND ratio = 0) AS zero,
       fast_count('SELECT * FROM measure WHERE price > 0 AND ratio = ''-0''') = count(*) FILTER (WHERE price > 0 AND ratio = 0) AS minus_zero,
       fast_count('SELECT * FROM measure WHERE price > 0 AND ratio = ''NaN''') = count(*) FILTER (WHERE price > 0 AND ratio = 'NaN') AS float_nan,
       fast_count('SELECT * FROM measure WHERE small = ''-0''') = count(*) FILTER (WHERE small = 0) AS float4_zero
  FROM measure;
SELECT grouped_hits() - :hits_before AS served_from_groups;
-- Writes into and between groups of equal values written differently.
INSERT INTO measure (price, ratio, small) VALUES (1.0000, '-0'::float8, '-0'), (2.500, 'NaN', 'NaN');
UPDATE measure SET price = 1.0, ratio = 0 WHERE price = 2.50 AND ratio = 1.5;
UPDATE measure SET ratio = 'NaN', small = 'NaN' WHERE price = 10;
DELETE FROM measure WHERE price = 1.00 AND ratio = 'NaN';
SELECT what, listed, listed = grouped AS same FROM canonical_groups();
SELECT fast_count('SELECT * FROM measure WHERE price = 1') = count(*) FILTER (WHERE price = 1) AS one_after,
       fast_count('SELECT * FROM measure WHERE price > 0 AND ratio = 0') = count(*) FILTER (WHERE price > 0 AND ratio = 0) AS zero_after,
       fast_count('SELECT * FROM measure WHERE price > 0 AND ratio = ''NaN''') = count(*) FILTER (WHERE price > 0 AND ratio = 'NaN') AS nan_after
  FROM measure;
SELECT fast_count_unregister('SELECT * FROM measure', group_by => ARRAY['price']),
       fast_count_unregister('SELECT * FROM measure WHERE price > 0', group_by => ARRAY['ratio']),
       fast_count_unregister('SELECT * FROM measure', group_by => ARRAY['small']);
DROP FUNCTION canonical_groups();
DROP TABLE measure;

-- Unregistering: without group_by it is not the grouped registration.
SELECT fast_count_unregister('SELECT * FROM book WHERE status = 1');
SELECT fast_count_unregister('SELECT * FROM book WHERE status = 1', group_by => ARRAY['author_id']);
SELECT fast_count_unregister('SELECT * FROM book', group_by => ARRAY['lang', 'status']);
SELECT fast_count_unregister('SELECT * FROM book', group_by => ARRAY['author_id']);
SELECT fast_count_unregister('SELECT * FROM sale WHERE amount > 10', group_by => ARRAY['shop']);
SELECT count(*) AS rows_left FROM fast_count.exact_deltas;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'fast_count%';

DROP FUNCTION groups_exact(text, text), settled(text), worker_done(text, text), grouped_hits(), try_grouped(text, text[], text), count_by_author(bigint);
DROP TABLE book, sale;
REVOKE USAGE ON SCHEMA fast_count FROM grouped_reader;
DROP ROLE grouped_reader;
TRUNCATE fast_count.entries;
