-- Whatever fast_count runs on a role's behalf (the worker's refresh, exact
-- mode's backfill, a shared count started by a superuser's read) runs as
-- REFRESH MATERIALIZED VIEW would: as that role, inside a
-- security-restricted operation, in a subtransaction that is rolled back.
-- A hostile role's code can neither leave deferred triggers to fire as the
-- worker's superuser (CVE-2020-25695's class), nor keep its writes, nor
-- change the worker's settings for the next role's refresh.
TRUNCATE fast_count.entries;
SET client_min_messages = warning;

-- As in worker.sql (whose functions may be in this database already).
CREATE OR REPLACE FUNCTION wait_until(condition text, timeout interval DEFAULT '30s') RETURNS boolean
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
-- The worker has looked at q: counted it or recorded a failure.
CREATE FUNCTION looked_at(q text) RETURNS boolean LANGUAGE sql AS $$
  SELECT coalesce((SELECT count IS NOT NULL OR failures > 0 FROM fast_count_entries WHERE query = q), false)
$$;
CREATE FUNCTION mallory_is_superuser() RETURNS boolean LANGUAGE sql AS $$
  SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_fc_worker_mallory'
$$;

CREATE ROLE regress_fc_worker_mallory;
CREATE SCHEMA mal AUTHORIZATION regress_fc_worker_mallory;
SET ROLE regress_fc_worker_mallory;
SET search_path = mal, public;
-- The issue's repro: a deferred constraint trigger that makes mallory
-- superuser when it fires as one, queued by a volatile function that a
-- lying IMMUTABLE function calls.
CREATE TABLE m_t(x int);
CREATE FUNCTION m_trig() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE 'ALTER ROLE regress_fc_worker_mallory SUPERUSER';
  END IF;
  RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER m_ct AFTER INSERT ON m_t DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION m_trig();
CREATE FUNCTION m_ins() RETURNS bool LANGUAGE plpgsql VOLATILE AS $$
BEGIN INSERT INTO m_t VALUES (1); RETURN true; END $$;
CREATE FUNCTION m_imm() RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN m_ins(); END $$;
CREATE FUNCTION m_imm_row(x int) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN m_ins() AND x > 0; END $$;
-- Immediate side effects: a direct escalation attempt, a plain write, a
-- session setting.
CREATE FUNCTION m_escalate() RETURNS bool LANGUAGE plpgsql VOLATILE AS $$ BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE 'ALTER ROLE regress_fc_worker_mallory SUPERUSER';
  END IF;
  RETURN true; END $$;
CREATE FUNCTION m_imm_escalate() RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN m_escalate(); END $$;
CREATE TABLE m_w(x int);
CREATE FUNCTION m_write() RETURNS bool LANGUAGE plpgsql VOLATILE AS $$
BEGIN INSERT INTO m_w VALUES (1); RETURN true; END $$;
CREATE FUNCTION m_imm_write() RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN m_write(); END $$;
CREATE FUNCTION m_imm_poison() RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM set_config('array_nulls', 'off', false); RETURN true; END $$;
CREATE TABLE m_e(x int);
INSERT INTO m_e SELECT g FROM generate_series(1, 5) g;
RESET ROLE;
RESET search_path;

-- 1. The periodic worker, the issue's repro: the deferred trigger is refused
-- inside the restricted operation, the refresh fails and is recorded.
SET ROLE regress_fc_worker_mallory;
SET search_path = mal, public;
SELECT fast_count_register('SELECT * FROM generate_series(1,3) g WHERE m_imm()', refresh_every => '1 s') IS NOT NULL AS registered;
RESET ROLE;
RESET search_path;
SELECT wait_until($$SELECT looked_at('SELECT * FROM generate_series(1,3) g WHERE m_imm()')$$) AS looked_at;
SELECT pg_sleep(0.5);  -- a deferred trigger would have fired at the worker's commit
SELECT mallory_is_superuser();
SELECT count, failures > 0 AS failed, last_error FROM fast_count_entries
 WHERE query = 'SELECT * FROM generate_series(1,3) g WHERE m_imm()';
SELECT count(*) AS rows_left_in_m_t FROM mal.m_t;
ALTER ROLE regress_fc_worker_mallory NOSUPERUSER;

-- 2. The worker: writes of the owner's code are rolled back, the count stands.
SET ROLE regress_fc_worker_mallory;
SET search_path = mal, public;
SELECT fast_count_register('SELECT * FROM generate_series(1,3) g WHERE m_imm_write()', refresh_every => '1 s') IS NOT NULL AS registered;
RESET ROLE;
RESET search_path;
SELECT wait_until($$SELECT looked_at('SELECT * FROM generate_series(1,3) g WHERE m_imm_write()')$$) AS looked_at;
SELECT count, failures FROM fast_count_entries
 WHERE query = 'SELECT * FROM generate_series(1,3) g WHERE m_imm_write()';
SELECT count(*) AS rows_written_by_owner_code FROM mal.m_w;

-- 3. The worker: a setting changed by the owner's code does not outlive its
-- refresh; another role's later refresh sees the default (array_nulls on:
-- '{NULL}' holds a NULL).
SET ROLE regress_fc_worker_mallory;
SET search_path = mal, public;
SELECT fast_count_register('SELECT * FROM generate_series(1,3) g WHERE m_imm_poison()', refresh_every => '1 s') IS NOT NULL AS registered;
RESET ROLE;
RESET search_path;
SELECT wait_until($$SELECT looked_at('SELECT * FROM generate_series(1,3) g WHERE m_imm_poison()')$$) AS looked_at;
CREATE TABLE plain AS SELECT g FROM generate_series(1, 7) g;
SELECT fast_count_register($$SELECT * FROM plain WHERE ('{NULL}'::text[])[1] IS NULL$$, refresh_every => '1 s') IS NOT NULL AS registered;
SELECT wait_until($$SELECT looked_at($q$SELECT * FROM plain WHERE ('{NULL}'::text[])[1] IS NULL$q$)$$) AS looked_at;
SELECT count AS unpoisoned_count, failures FROM fast_count_entries
 WHERE query = $$SELECT * FROM plain WHERE ('{NULL}'::text[])[1] IS NULL$$;

-- 4. A superuser's reads of mallory's query: a count that is stored runs
-- restricted too (as the superuser, but its side effects die with it).
SET search_path = mal, public;
SELECT fast_count('SELECT * FROM generate_series(1,4) g WHERE m_imm()');
SELECT fast_count_refresh('SELECT * FROM generate_series(1,5) g WHERE m_imm()');
SELECT fast_count('SELECT * FROM generate_series(1,4) g WHERE m_imm_escalate()');
SELECT fast_count_refresh('SELECT * FROM generate_series(1,5) g WHERE m_imm_escalate()');
RESET search_path;
SELECT pg_sleep(0.1);
SELECT mallory_is_superuser();
ALTER ROLE regress_fc_worker_mallory NOSUPERUSER;
-- A count that is not stored runs as the caller's own statement would.
SET fast_count.enabled = off;
SET search_path = mal, public;
SELECT fast_count('SELECT * FROM generate_series(1,3) g WHERE m_imm_write()') AS live_count;
RESET search_path;
RESET fast_count.enabled;
SELECT count(*) AS live_count_wrote FROM mal.m_w;
TRUNCATE mal.m_w;

-- 5. Exact mode: the backfill counts as the owner, restricted, by the
-- worker and by _exact_settle in a superuser's transaction.
SET ROLE regress_fc_worker_mallory;
SET search_path = mal, public;
SELECT fast_count_register('SELECT * FROM m_e WHERE m_imm_row(x)', mode => 'exact') IS NOT NULL AS registered;
RESET ROLE;
RESET search_path;
SELECT wait_until($$SELECT coalesce((SELECT failures > 0 OR exact_state = 'ready' FROM fast_count_entries WHERE query = 'SELECT * FROM m_e WHERE m_imm_row(x)'), false)$$) AS worker_tried;
SELECT pg_sleep(0.5);
SELECT mallory_is_superuser();
SELECT exact_state, last_error FROM fast_count_entries WHERE query = 'SELECT * FROM m_e WHERE m_imm_row(x)';
ALTER ROLE regress_fc_worker_mallory NOSUPERUSER;
SELECT fast_count._exact_settle(key) FROM fast_count.entries WHERE query = 'SELECT * FROM m_e WHERE m_imm_row(x)';
SELECT pg_sleep(0.1);
SELECT mallory_is_superuser();
SELECT count(*) AS rows_left_in_m_t FROM mal.m_t;

-- 6. Grouped exact mode: the per-group backfill counts as the owner,
-- restricted, too.
SET ROLE regress_fc_worker_mallory;
SET search_path = mal, public;
SELECT fast_count_register('SELECT x FROM m_e WHERE m_imm_row(x)', mode => 'exact',
                           group_by => ARRAY['x']) IS NOT NULL AS registered;
RESET ROLE;
RESET search_path;
SELECT wait_until($$SELECT coalesce((SELECT failures > 0 OR exact_state = 'ready' FROM fast_count_entries WHERE query = 'SELECT x FROM m_e WHERE m_imm_row(x)'), false)$$) AS worker_tried;
SELECT pg_sleep(0.5);
SELECT mallory_is_superuser();
SELECT exact_state, last_error FROM fast_count_entries WHERE query = 'SELECT x FROM m_e WHERE m_imm_row(x)';
ALTER ROLE regress_fc_worker_mallory NOSUPERUSER;
SELECT fast_count._exact_settle(key) FROM fast_count.entries WHERE query = 'SELECT x FROM m_e WHERE m_imm_row(x)';
SELECT pg_sleep(0.1);
SELECT mallory_is_superuser();
SELECT count(*) AS rows_left_in_m_t FROM mal.m_t;

-- Clean up: the failing registrations would be retried for ever.
SET ROLE regress_fc_worker_mallory;
SET search_path = mal, public;
SELECT fast_count_unregister('SELECT * FROM generate_series(1,3) g WHERE m_imm()');
SELECT fast_count_unregister('SELECT * FROM generate_series(1,3) g WHERE m_imm_write()');
SELECT fast_count_unregister('SELECT * FROM generate_series(1,3) g WHERE m_imm_poison()');
SELECT fast_count_unregister('SELECT * FROM m_e WHERE m_imm_row(x)');
SELECT fast_count_unregister('SELECT x FROM m_e WHERE m_imm_row(x)', group_by => ARRAY['x']);
RESET ROLE;
RESET search_path;
SELECT fast_count_unregister($$SELECT * FROM plain WHERE ('{NULL}'::text[])[1] IS NULL$$);
TRUNCATE fast_count.entries;
DROP SCHEMA mal CASCADE;
DROP TABLE plain;
DROP ROLE regress_fc_worker_mallory;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP FUNCTION looked_at(text), mallory_is_superuser(), wait_until(text, interval);
RESET client_min_messages;
