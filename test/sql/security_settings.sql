-- A count shared between sessions means the same for each of them. Every
-- setting that can change a result is part of its key (fail safe: settings
-- fast_count does not know count too), the worker counts a registration
-- under the settings it was registered with, a query that runs user code is
-- not shared across roles, a new definition of anything the query uses is a
-- new key, and a query that follows the clock is recounted at every refresh.
-- Written as hostile roles: mallory caches under odd settings, alice reads
-- with the defaults in another session.
SET fast_count.cache_larger_than = 0;
TRUNCATE fast_count.entries;
CREATE ROLE regress_fc_set_alice;
CREATE ROLE regress_fc_set_mallory;
GRANT CREATE ON SCHEMA public TO regress_fc_set_alice, regress_fc_set_mallory;

-- Waits (at most timeout) until the query returns true.
CREATE FUNCTION settings_wait_until(condition text, timeout interval DEFAULT '60s') RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz := clock_timestamp() + timeout;
  ok boolean;
BEGIN
  LOOP
    EXECUTE condition INTO ok;
    IF ok THEN RETURN true; END IF;
    IF clock_timestamp() > deadline THEN RETURN false; END IF;
    PERFORM pg_sleep(0.1);
    PERFORM pg_stat_clear_snapshot();
  END LOOP;
END $$;

CREATE TABLE docs (id int, body text);
INSERT INTO docs SELECT g, CASE WHEN g % 2 = 0 THEN 'the dogs were running' ELSE 'a run' END
  FROM generate_series(1, 1000) g;
CREATE TABLE stamps (id int, stamp text);
INSERT INTO stamps SELECT g, '2024-01-01 12:00 IST' FROM generate_series(1, 1000) g;
CREATE TABLE lists (id int, list text);
INSERT INTO lists SELECT g, '{NULL,1}' FROM generate_series(1, 1000) g;
CREATE TABLE floats (id int, f float8);
INSERT INTO floats SELECT g, 0.1::float8 + 0.2::float8 FROM generate_series(1, 1000) g;
GRANT SELECT ON docs, stamps, lists, floats TO PUBLIC;

\set q_ts 'SELECT * FROM docs WHERE to_tsvector(body) @@ to_tsquery(''run'')'
\set q_tz 'SELECT * FROM stamps WHERE stamp::timestamptz < timestamptz ''2024-01-01 08:00:00+00'''
\set q_arr 'SELECT * FROM lists WHERE (list::text[])[1] IS NULL'
\set q_float 'SELECT * FROM floats WHERE f::text = ''0.3'''

-- mallory counts (and so caches) under settings of its own, and gets its
-- own counts back from the cache.
SET ROLE regress_fc_set_mallory;
SET default_text_search_config = 'simple';
SELECT fast_count(:'q_ts') AS mallory_tsearch, fast_count(:'q_ts') AS again;
RESET default_text_search_config;
SET timezone_abbreviations = 'India';
SELECT fast_count(:'q_tz') AS mallory_abbreviations, fast_count(:'q_tz') AS again;
RESET timezone_abbreviations;
SET array_nulls = off;
SELECT fast_count(:'q_arr') AS mallory_array_nulls, fast_count(:'q_arr') AS again;
RESET array_nulls;
SET extra_float_digits = 0;
SELECT fast_count(:'q_float') AS mallory_float_digits, fast_count(:'q_float') AS again;
RESET extra_float_digits;

-- alice, in another session with the defaults, gets the true counts.
\c
SET fast_count.cache_larger_than = 0;
SET ROLE regress_fc_set_alice;
SELECT fast_count(:'q_ts') AS alice_tsearch, (SELECT count(*) FROM docs
  WHERE to_tsvector(body) @@ to_tsquery('run')) AS really;
SELECT fast_count(:'q_tz') AS alice_abbreviations, (SELECT count(*) FROM stamps
  WHERE stamp::timestamptz < timestamptz '2024-01-01 08:00:00+00') AS really;
SELECT fast_count(:'q_arr') AS alice_array_nulls, (SELECT count(*) FROM lists
  WHERE (list::text[])[1] IS NULL) AS really;
SELECT fast_count(:'q_float') AS alice_float_digits, (SELECT count(*) FROM floats
  WHERE f::text = '0.3') AS really;
RESET ROLE;
-- Two entries for each query: one per meaning.
SELECT query, count(*) AS entries, min(count) AS low, max(count) AS high
  FROM fast_count_entries GROUP BY query ORDER BY query;

-- A setting fast_count does not know (a custom placeholder, another
-- extension's setting) counts too.
SET myext.flavour = 'sour';
SELECT fast_count('SELECT * FROM docs') AS with_placeholder;
RESET myext.flavour;
SELECT fast_count('SELECT * FROM docs') AS placeholder_reset;
SET myext.flavour = 'sweet';
SELECT fast_count('SELECT * FROM docs') AS other_value;
SELECT count(*) AS entries FROM fast_count_entries WHERE query = 'SELECT * FROM docs';
-- Settings that cannot change a result do not split entries.
SET work_mem = '8MB';
SET application_name = 'somebody else';
SET enable_seqscan = off;
-- Nor do the logging-only settings of contrib's auto_explain and
-- pg_stat_statements, loaded or not.
SET auto_explain.log_min_duration = 0;
SET pg_stat_statements.track = 'all';
SELECT fast_count('SELECT * FROM docs') AS planner_settings;
SELECT count(*) AS still_entries FROM fast_count_entries WHERE query = 'SELECT * FROM docs';
RESET work_mem;
RESET application_name;
RESET enable_seqscan;
RESET auto_explain.log_min_duration;
RESET pg_stat_statements.track;
RESET myext.flavour;

-- The worker counts a registration under the settings it was registered
-- with, in every refresh.
SET ROLE regress_fc_set_alice;
SET default_text_search_config = 'simple';
SELECT fast_count_register(:'q_ts', '1 second') IS NOT NULL AS registered_simple;
RESET ROLE;
SELECT settings_wait_until($$SELECT bool_or(count = 500 AND kind = 'registered' AND failures = 0)
                      FROM fast_count_entries WHERE query = $$ || quote_literal(:'q_ts')) AS counted_as_registered;
-- Rows that match under the server's english configuration only.
INSERT INTO docs SELECT g, 'running' FROM generate_series(1001, 1100) g;
SELECT clock_timestamp() AS inserted_at \gset
\c
SET fast_count.cache_larger_than = 0;
SELECT settings_wait_until($$SELECT bool_or(kind = 'registered' AND counted_at > '$$ || :'inserted_at' || $$')
                      FROM fast_count_entries WHERE query = $$ || quote_literal(:'q_ts')) AS recounted;
SELECT count AS registered_count, failures FROM fast_count_entries
 WHERE query = :'q_ts' AND kind = 'registered';
SET default_text_search_config = 'simple';
SELECT fast_count(:'q_ts') AS simple_reader;
RESET default_text_search_config;
SET ROLE regress_fc_set_alice;
SELECT fast_count_unregister(:'q_ts');
RESET ROLE;
-- A setting the worker cannot restore (here: one this server does not
-- have, as after a downgrade) fails the refresh instead of counting under
-- other settings.
SELECT fast_count_register('SELECT * FROM docs WHERE id < 100', '1 second') IS NOT NULL AS registered;
SELECT settings_wait_until($$SELECT count = 99 FROM fast_count_entries WHERE query = 'SELECT * FROM docs WHERE id < 100'$$) AS counted;
UPDATE fast_count.entries SET settings = settings || '{no_such_setting=on}'::text[], count = 12345
 WHERE query = 'SELECT * FROM docs WHERE id < 100';
SELECT settings_wait_until($$SELECT failures > 0 FROM fast_count_entries WHERE query = 'SELECT * FROM docs WHERE id < 100'$$) AS failed;
SELECT last_error, count AS not_recounted FROM fast_count_entries WHERE query = 'SELECT * FROM docs WHERE id < 100';
SELECT fast_count_unregister('SELECT * FROM docs WHERE id < 100');

-- A function that claims to be IMMUTABLE runs with the rights of whoever
-- calls it: what it answers for alice (reading her private table) must not
-- reach mallory through a shared count.
SET ROLE regress_fc_set_alice;
CREATE TABLE alice_private (secret text);
INSERT INTO alice_private VALUES ('diagnosis: yes');
RESET ROLE;
SET ROLE regress_fc_set_mallory;
CREATE FUNCTION public.probe() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM public.alice_private WHERE secret LIKE '%yes');
EXCEPTION WHEN insufficient_privilege THEN
  RETURN false;
END $$;
RESET ROLE;
SET ROLE regress_fc_set_alice;
SELECT fast_count('SELECT * FROM docs WHERE public.probe()') AS alice_probe;
RESET ROLE;
SET ROLE regress_fc_set_mallory;
SELECT fast_count('SELECT * FROM docs WHERE public.probe()') AS mallory_probe;
RESET ROLE;
-- A plain query over tables with built-in operators is still shared.
SET ROLE regress_fc_set_alice;
SELECT fast_count('SELECT * FROM docs WHERE id > 10') AS alice_plain;
RESET ROLE;
SET ROLE regress_fc_set_mallory;
SELECT fast_count('SELECT * FROM docs WHERE id > 10') AS mallory_plain;
RESET ROLE;
SELECT query, count(*) AS entries FROM fast_count_entries
 WHERE query IN ('SELECT * FROM docs WHERE public.probe()', 'SELECT * FROM docs WHERE id > 10')
 GROUP BY query ORDER BY query;

-- A new definition of anything the query uses gives the new number at once.
CREATE TABLE vt AS SELECT g AS id FROM generate_series(1, 3000) g;
CREATE VIEW v_inner AS SELECT * FROM vt WHERE id <= 2500;
CREATE VIEW v_outer AS SELECT * FROM v_inner;
SELECT fast_count('SELECT * FROM v_outer') AS nested_view;
CREATE OR REPLACE VIEW v_inner AS SELECT * FROM vt WHERE id <= 1500;
SELECT fast_count('SELECT * FROM v_outer') AS inner_view_replaced;
CREATE OR REPLACE VIEW v_outer AS SELECT * FROM v_inner WHERE id <= 1000;
SELECT fast_count('SELECT * FROM v_outer') AS outer_view_replaced;
SELECT fast_count('SELECT * FROM v_inner') AS inner_view;
CREATE OR REPLACE VIEW v_inner AS SELECT * FROM vt WHERE id <= 500;
SELECT fast_count('SELECT * FROM v_inner') AS view_replaced;

CREATE FUNCTION small(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 <= 10';
SELECT fast_count('SELECT * FROM vt WHERE small(id)') AS function_v1;
CREATE OR REPLACE FUNCTION small(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 <= 20';
SELECT fast_count('SELECT * FROM vt WHERE small(id)') AS function_v2;

CREATE DOMAIN small_id AS int;
SELECT fast_count('SELECT * FROM vt WHERE id::small_id > 0') AS domain_v1;
ALTER DOMAIN small_id ADD CONSTRAINT at_most_100 CHECK (VALUE <= 100);
-- What count(*) says now: the new constraint is checked.
SELECT count(*) FROM vt WHERE id::small_id > 0;
SELECT fast_count('SELECT * FROM vt WHERE id::small_id > 0') AS domain_v2;
SELECT fast_count('SELECT * FROM vt WHERE id <= 100 AND id::small_id > 0') AS domain_ok;

-- A registration follows a new view definition (the worker moves it to
-- the new key and counts).
SELECT fast_count_register('SELECT * FROM v_outer', '1 second') IS NOT NULL AS registered_view;
SELECT settings_wait_until($$SELECT bool_or(count = 500 AND kind = 'registered')
                      FROM fast_count_entries WHERE query = 'SELECT * FROM v_outer'$$) AS view_counted;
CREATE OR REPLACE VIEW v_inner AS SELECT * FROM vt WHERE id <= 700;
SELECT settings_wait_until($$SELECT bool_or(count = 700 AND kind = 'registered')
                      FROM fast_count_entries WHERE query = 'SELECT * FROM v_outer'$$) AS view_followed;
SELECT fast_count('SELECT * FROM v_outer') AS registered_view_served;
SELECT fast_count_unregister('SELECT * FROM v_outer');

-- A registered query that follows the clock is recounted at every refresh,
-- although its table does not change: its rows age out.
CREATE TABLE ev (ts timestamptz);
INSERT INTO ev SELECT now() + interval '5 seconds' FROM generate_series(1, 100);
\set q_clock 'SELECT * FROM ev WHERE ts > now() - interval ''5 seconds'''
SELECT fast_count_register(:'q_clock', '1 second') IS NOT NULL AS registered_clock;
SELECT settings_wait_until($$SELECT count = 100 FROM fast_count_entries WHERE query = $$ || quote_literal(:'q_clock')) AS counted_now;
SELECT settings_wait_until($$SELECT count = 0 FROM fast_count_entries WHERE query = $$ || quote_literal(:'q_clock')) AS aged_out;
SELECT fast_count(:'q_clock') AS served_after_aging;
SELECT fast_count_unregister(:'q_clock');

DROP TABLE docs, stamps, lists, floats, vt, ev, alice_private CASCADE;
DROP FUNCTION small(int);
DROP FUNCTION probe();
DROP DOMAIN small_id;
DROP FUNCTION settings_wait_until(text, interval);
REVOKE CREATE ON SCHEMA public FROM regress_fc_set_alice, regress_fc_set_mallory;
DROP ROLE regress_fc_set_alice;
DROP ROLE regress_fc_set_mallory;
TRUNCATE fast_count.entries;
