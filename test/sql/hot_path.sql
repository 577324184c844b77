-- The hot path's SQL surface: estimates, activity counters, the memo's bound.
SET fast_count.cache_larger_than = 0;
TRUNCATE fast_count.entries;
CREATE TABLE hp AS SELECT g AS id, g % 4 AS kind FROM generate_series(1, 4000) g;
ANALYZE hp;

-- An estimate comes from the planner and caches nothing.
SELECT fast_count_estimate('SELECT * FROM hp') AS estimate_of_4000;
SELECT fast_count_estimate('SELECT * FROM hp WHERE kind = $1', ARRAY['2']) BETWEEN 500 AND 1500 AS plausible;
SELECT count(*) AS entries FROM fast_count.entries;
SELECT fast_count_estimate(NULL);
SELECT fast_count_estimate('DELETE FROM hp');

-- Entries show what the hot path knows of them.
SELECT fast_count('SELECT * FROM hp WHERE kind = 1') AS counted;
SELECT fast_count('SELECT * FROM hp WHERE kind = 1') AS served;
SELECT mode, is_estimate, served_stale, checked_at = counted_at AS checked_when_counted,
       hits, misses, refreshes
  FROM fast_count_entries WHERE query = 'SELECT * FROM hp WHERE kind = 1';
SELECT hits > 0 AND misses > 0 AND counts > 0 AS counting, entries >= 1 AS indexed
  FROM fast_count_stats();

-- The memo keeps at most fast_count.memo_size analyzed queries.
SET fast_count.memo_size = 5;
SELECT count(fast_count(format('SELECT * FROM hp WHERE id > %s', g))) FROM generate_series(1, 40) g;
SELECT count(*) <= 5 AS bounded FROM pg_backend_memory_contexts WHERE name = 'fast_count memo entry';
RESET fast_count.memo_size;

-- A hand-made change of the catalog table resets the shared index of this
-- database, so nothing stale is served from it.
UPDATE fast_count.entries SET count = 12345 WHERE query = 'SELECT * FROM hp WHERE kind = 1';
SELECT fast_count('SELECT * FROM hp WHERE kind = 1') AS the_table_is_the_truth;

-- Resetting the counters is for superusers (and whom they grant it to).
CREATE ROLE regress_fc_hot_reader;
SET ROLE regress_fc_hot_reader;
SELECT fast_count_stats_reset();
RESET ROLE;
DROP ROLE regress_fc_hot_reader;
SELECT fast_count_stats_reset();
SELECT hits, misses, counts FROM fast_count_stats();

-- An entry that turns exact is never again served its cached count: the
-- shared index learns the new mode when the registration commits.
CREATE TABLE hp_inbox AS SELECT g AS id, g % 2 = 0 AS unread FROM generate_series(1, 1000) g;
SELECT fast_count('SELECT * FROM hp_inbox WHERE unread') AS cached;
INSERT INTO hp_inbox SELECT g, true FROM generate_series(1001, 1010) g;
SELECT fast_count('SELECT * FROM hp_inbox WHERE unread') AS served_from_cache;
SELECT fast_count_register('SELECT * FROM hp_inbox WHERE unread', mode => 'exact') IS NOT NULL AS exact;
SELECT fast_count('SELECT * FROM hp_inbox WHERE unread') AS counted,
       (SELECT count(*) FROM hp_inbox WHERE unread) AS count_star;
SELECT fast_count_unregister('SELECT * FROM hp_inbox WHERE unread') AS unregistered;

-- A statement with thousands of distinct misses: a count not worth keeping
-- keeps no lock, and a kept one releases its lock once it is published, so
-- the lock table never runs out and the transaction keeps all of them.
SET fast_count.cache_larger_than = 1000000;
SELECT count(fast_count(format('SELECT * FROM hp WHERE id = %s', g))) AS counted_live
  FROM generate_series(1, 5000) g;
SET fast_count.cache_larger_than = 0;
SELECT count(fast_count(format('SELECT * FROM hp WHERE id >= %s', g))) AS counted
  FROM generate_series(1, 5000) g;
SELECT count(*) AS kept FROM fast_count.entries WHERE query LIKE 'SELECT * FROM hp WHERE id >= %';

-- The locks of rolled-back savepoints are gone with them and do not count
-- against that bound (Django's TestCase runs each test in a savepoint).
BEGIN;
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    BEGIN
      PERFORM fast_count(format('SELECT * FROM hp WHERE id < %s', i));
      RAISE EXCEPTION 'roll back';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
  END LOOP;
END $$;
SELECT fast_count('SELECT * FROM hp WHERE id < 1000') AS still_kept;
SELECT count(*) AS kept FROM fast_count.entries WHERE query = 'SELECT * FROM hp WHERE id < 1000';
COMMIT;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP TABLE hp, hp_inbox;
RESET client_min_messages;
