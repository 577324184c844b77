-- Anything but one read-only SELECT is refused with a clear error and a
-- proper SQLSTATE, and nothing is cached or registered.
SET fast_count.cache_larger_than = 0;
TRUNCATE fast_count.entries;
CREATE TABLE t (id int, v text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10) g;

-- Runs a call and reports its SQLSTATE and message instead of failing.
CREATE FUNCTION outcome(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE call;
  RETURN 'ok';
EXCEPTION WHEN others THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT q AS query, outcome(format('SELECT fast_count(%L)', q)) AS error FROM (VALUES
  -- missing or empty
  (NULL), (''), ('   '), ('-- nothing but a comment'), (';;'),
  -- several statements
  ('SELECT 1; SELECT 2'), ('SELECT * FROM t; DELETE FROM t'),
  -- statements that are not a SELECT
  ('INSERT INTO t VALUES (1, ''x'')'), ('UPDATE t SET v = ''x'''), ('DELETE FROM t'),
  ('MERGE INTO t USING t s ON t.id = s.id WHEN MATCHED THEN DELETE'),
  ('CREATE TABLE u (x int)'), ('DROP TABLE t'), ('TRUNCATE t'), ('EXPLAIN SELECT * FROM t'),
  ('COPY t TO STDOUT'), ('VACUUM t'), ('SET search_path = pg_catalog'), ('SHOW search_path'),
  ('BEGIN'), ('CALL some_procedure()'),
  -- SELECTs that write or lock
  ('SELECT * INTO t_copy FROM t'), ('SELECT * INTO t_copy FROM t UNION SELECT * FROM t'),
  ('SELECT * FROM t FOR UPDATE'), ('SELECT * FROM t FOR SHARE'),
  ('SELECT * FROM (SELECT * FROM t FOR UPDATE) s'),
  ('WITH l AS (SELECT * FROM t FOR KEY SHARE) SELECT * FROM l'),
  ('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d'),
  ('WITH i AS (INSERT INTO t VALUES (0) RETURNING *) SELECT 1'),
  ('SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s'),
  -- errors of the query itself
  ('SELECT * FORM t'), ('SELECT * FROM no_such_table'), ('SELECT no_such_column FROM t'),
  ('SELECT no_such_function(id) FROM t'), ('SELECT * FROM t WHERE id = ''not a number'''),
  ('SELECT * FROM t WHERE 1 / (id - 5) > 0'),
  -- parameters used without values
  ('SELECT * FROM t WHERE id = $1')
) AS bad(q);

SELECT params, outcome(format('SELECT fast_count(%L, %L::text[])', q, params)) AS error FROM (VALUES
  ('SELECT * FROM t WHERE id = $1 AND v = $2', '{1}'),
  ('SELECT * FROM t WHERE id = $1', '{1,2}'),
  ('SELECT * FROM t WHERE id = $1', '{one}'),
  ('SELECT * FROM t WHERE id = $1', '{{1},{2}}')
) AS bad(q, params);

SELECT call, outcome(call) AS error FROM (VALUES
  ('SELECT fast_count_register(NULL)'),
  ('SELECT fast_count_register(''DELETE FROM t'')'),
  ('SELECT fast_count_register(''SELECT * FROM t'', ''0 seconds'')'),
  ('SELECT fast_count_register(''SELECT * FROM t'', ''-1 minute'')'),
  ('SELECT fast_count_register(''SELECT * FROM t WHERE random() < 0.5'')'),
  ('SELECT fast_count_register(''SELECT * FROM t WHERE id = $1'')'),
  ('SELECT fast_count_refresh(NULL)'),
  ('SELECT fast_count_refresh(''SELECT * FROM t WHERE random() < 0.5'')'),
  ('SELECT fast_count_refresh(''SELECT * FROM no_such_table'')'),
  ('SELECT fast_count_unregister(NULL)'),
  ('SELECT fast_count_unregister(''SELECT * FROM no_such_table'')'),
  ('SELECT fast_count_unregister(''UPDATE t SET v = NULL'')')
) AS bad(call);

-- In full, as a client shows them: errors point into the query text.
SELECT fast_count('SELECT * FORM t');
SELECT fast_count('SELECT * FROM t WHERE id = ''not a number''');
SELECT fast_count('DELETE FROM t');
SELECT fast_count('SELECT * FROM t FOR UPDATE');
SELECT fast_count('SELECT * FROM t WHERE id = $1 AND v = $2', ARRAY['1']);
SELECT fast_count_register('SELECT * FROM t WHERE random() < 0.5');
SELECT fast_count_unregister('SELECT * FROM t');

-- Nothing of the above was cached, registered or changed.
SELECT count(*) AS entries FROM fast_count.entries;
SELECT count(*) AS rows_in_t FROM t;
SELECT fast_count('SELECT * FROM t') AS still_works;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP TABLE t;
DROP FUNCTION outcome(text);
RESET client_min_messages;
