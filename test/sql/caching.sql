-- Retroactive caching: a miss counts now and keeps the count when it is large
-- or slow enough; the count is served until it expires.
TRUNCATE fast_count.entries;
CREATE TABLE events (id int, kind int, at timestamptz);
INSERT INTO events SELECT g, g % 10, now() - g * interval '1 minute'
  FROM generate_series(1, 2000) g;
CREATE FUNCTION cached(q text) RETURNS boolean LANGUAGE sql AS
  $$ SELECT EXISTS (SELECT 1 FROM fast_count_entries WHERE query = q) $$;

-- Below the row threshold and fast: counted, not kept.
SET fast_count.cache_larger_than = 1000;
SET fast_count.cache_slower_than = -1;
SELECT fast_count('SELECT * FROM events WHERE kind = 1') AS small,
       cached('SELECT * FROM events WHERE kind = 1') AS kept;
-- At or above it: kept.
SELECT fast_count('SELECT * FROM events') AS large,
       cached('SELECT * FROM events') AS kept;
-- Slower than cache_slower_than: kept however small (0 ms: every count).
SET fast_count.cache_slower_than = 0;
SELECT fast_count('SELECT * FROM events WHERE kind = 2') AS small_but_slow,
       cached('SELECT * FROM events WHERE kind = 2') AS kept;
SET fast_count.cache_slower_than = -1;

-- A kept count is served even though the table changed...
INSERT INTO events SELECT g, 2, now() FROM generate_series(2001, 2100) g;
SELECT fast_count('SELECT * FROM events') AS served_from_cache,
       (SELECT count(*) FROM events) AS count_star;
-- ...until it is refreshed,
SELECT fast_count_refresh('SELECT * FROM events') AS refreshed;
SELECT fast_count('SELECT * FROM events') AS after_refresh;
-- ...or until it expires.
DELETE FROM events WHERE id > 2000;
SET fast_count.expire_after = '2s';
SELECT fast_count_refresh('SELECT * FROM events') AS refreshed;
INSERT INTO events SELECT g, 3, now() FROM generate_series(2001, 2050) g;
SELECT fast_count('SELECT * FROM events') AS before_expiry;
SELECT pg_sleep(2.2);
SELECT fast_count('SELECT * FROM events') AS after_expiry;
SELECT expires_at - counted_at AS lifetime FROM fast_count_entries
 WHERE query = 'SELECT * FROM events';
-- A reader that wants fresher counts than the writer stored treats older
-- ones as expired.
SET fast_count.expire_after = '10min';
SELECT fast_count_refresh('SELECT * FROM events') AS stored_for_10min;
INSERT INTO events VALUES (9999, 9, now());
SELECT pg_sleep(1.2);
SELECT fast_count('SELECT * FROM events') AS served_to_patient_reader;
SET fast_count.expire_after = '1s';
SELECT fast_count('SELECT * FROM events') AS recounted_for_impatient_reader;
RESET fast_count.expire_after;

-- A count that no longer qualifies replaces nothing: the expired entry goes.
SET fast_count.cache_larger_than = 0;
SET fast_count.expire_after = '1s';
SELECT fast_count('SELECT * FROM events WHERE kind = 5') AS cached_small;
SELECT pg_sleep(1.2);
SET fast_count.cache_larger_than = 1000000;
SELECT fast_count('SELECT * FROM events WHERE kind = 5') AS recounted,
       cached('SELECT * FROM events WHERE kind = 5') AS still_kept;
RESET fast_count.expire_after;
SET fast_count.cache_larger_than = 0;

-- Volatile functions: counted live every time, never kept.
SELECT fast_count('SELECT * FROM events WHERE random() >= 0') AS volatile,
       cached('SELECT * FROM events WHERE random() >= 0') AS kept;
-- Built-in stable functions of time are fine to cache...
SELECT fast_count('SELECT * FROM events WHERE at <= now()') AS with_now,
       cached('SELECT * FROM events WHERE at <= now()') AS kept;
-- ...but not those that depend on who asks or on session settings.
SELECT cached(q) AS kept FROM (VALUES
  ('SELECT * FROM events WHERE current_user = ''nobody'''),
  ('SELECT * FROM events WHERE current_setting(''app.kind'', true) IS NULL'),
  ('SELECT * FROM events WHERE has_table_privilege(''events'', ''SELECT'')'),
  ('SELECT * FROM events WHERE to_regclass(''events'') IS NOT NULL')
) v(q) WHERE fast_count(q) >= 0;
-- A random sample is not a count to keep; a repeatable one is.
SELECT cached(q) AS kept FROM (VALUES
  ('SELECT * FROM events TABLESAMPLE BERNOULLI (50)'),
  ('SELECT * FROM events TABLESAMPLE BERNOULLI (50) REPEATABLE (7)')
) v(q) WHERE fast_count(q) >= 0;
-- Temporary tables belong to one session: counted live.
CREATE TEMP TABLE scratch AS SELECT generate_series(1, 5) x;
SELECT fast_count('SELECT * FROM scratch') AS temp_table,
       cached('SELECT * FROM scratch') AS kept;

-- fast_count.enabled = off: everything is counted live and nothing is kept.
SET fast_count.enabled = off;
SELECT fast_count('SELECT * FROM events WHERE kind = 7') AS live,
       cached('SELECT * FROM events WHERE kind = 7') AS kept;
RESET fast_count.enabled;

-- In a read-only transaction a miss is counted live and not kept; hits are served.
BEGIN READ ONLY;
SELECT fast_count('SELECT * FROM events WHERE kind = 8') AS live_in_read_only,
       cached('SELECT * FROM events WHERE kind = 8') AS kept;
SELECT fast_count('SELECT * FROM events WHERE at <= now()') AS hit_in_read_only;
SELECT fast_count_refresh('SELECT * FROM events');
ROLLBACK;

-- A count kept by a transaction that rolls back is not kept.
BEGIN;
SELECT fast_count('SELECT * FROM events WHERE kind = 9') AS in_rolled_back_transaction;
ROLLBACK;
SELECT cached('SELECT * FROM events WHERE kind = 9') AS kept;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP TABLE events;
DROP FUNCTION cached(text);
RESET client_min_messages;
