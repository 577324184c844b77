-- The background worker of this database re-counts registered queries every
-- interval, without anyone asking.
TRUNCATE fast_count.entries;
CREATE TABLE tickets (id int, open boolean);
INSERT INTO tickets SELECT g, g % 2 = 0 FROM generate_series(1, 100) g;

-- Waits (at most timeout) until the query returns true.
CREATE FUNCTION wait_until(condition text, timeout interval DEFAULT '30s') RETURNS boolean
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

SELECT backend_type FROM pg_stat_activity
 WHERE backend_type = 'fast_count worker' AND datname = current_database();

SELECT fast_count_register('SELECT * FROM tickets WHERE open', '1 second') IS NOT NULL AS registered;
-- The first count comes right after registration, without waiting an interval.
SELECT wait_until($$SELECT count = 50 FROM fast_count_entries WHERE query = 'SELECT * FROM tickets WHERE open'$$) AS counted;
-- Later changes reach the cache within the interval. The worker counts
-- again only when the statistics show a change, and a session publishes its
-- statistics when it goes idle or ends: here, when it ends.
INSERT INTO tickets SELECT g, true FROM generate_series(101, 120) g;
\c
SELECT wait_until($$SELECT count = 70 FROM fast_count_entries WHERE query = 'SELECT * FROM tickets WHERE open'$$) AS refreshed;
SELECT fast_count('SELECT * FROM tickets WHERE open') AS served;
SELECT failures, last_error FROM fast_count_entries WHERE query = 'SELECT * FROM tickets WHERE open';

-- A registered query that fails is reported on its entry and retried later;
-- the worker goes on with the others.
CREATE ROLE regress_fc_carol;
GRANT SELECT ON tickets TO regress_fc_carol;
SET ROLE regress_fc_carol;
SELECT fast_count_register('SELECT * FROM tickets WHERE NOT open', '1 second') IS NOT NULL AS registered;
RESET ROLE;
SELECT wait_until($$SELECT count = 50 FROM fast_count_entries WHERE query = 'SELECT * FROM tickets WHERE NOT open'$$) AS counted;
REVOKE SELECT ON tickets FROM regress_fc_carol;
SELECT wait_until($$SELECT failures > 0 FROM fast_count_entries WHERE query = 'SELECT * FROM tickets WHERE NOT open'$$) AS failure_recorded;
SELECT last_error, count AS last_good_count FROM fast_count_entries WHERE query = 'SELECT * FROM tickets WHERE NOT open';
INSERT INTO tickets SELECT g, true FROM generate_series(121, 125) g;
\c
SELECT wait_until($$SELECT count = 75 FROM fast_count_entries WHERE query = 'SELECT * FROM tickets WHERE open'$$) AS others_still_refreshed;

SELECT fast_count_unregister('SELECT * FROM tickets WHERE NOT open') AS unregistered;
DROP ROLE regress_fc_carol;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP TABLE tickets;
DROP FUNCTION wait_until(text, interval);
RESET client_min_messages;
