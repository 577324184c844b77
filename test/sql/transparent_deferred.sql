-- Transparent mode, plans without the statement's own plan: a count with
-- no parameters is planned when a miss needs it. Whatever the plain
-- statement would check or see, this one checks and sees too.
TRUNCATE fast_count.entries;
CREATE TABLE shelf (id int PRIMARY KEY, status int, note text);
INSERT INTO shelf SELECT g, g % 5, 'n' || g FROM generate_series(1, 500) g;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM shelf WHERE status = 3', mode => 'exact')) IS NOT NULL AS registered;
CREATE FUNCTION shelf_hits() RETURNS bigint LANGUAGE sql AS
  $$ SELECT coalesce(sum(hits), 0)::bigint FROM fast_count_entries WHERE query LIKE '%shelf%' $$;

-- A plan made outside EXPLAIN has the node alone; EXPLAIN EXECUTE plans
-- the statement to show it, as the child would be shown.
PREPARE shelf3 AS SELECT count(*) AS "__count" FROM shelf WHERE status = 3;
EXECUTE shelf3;
EXPLAIN (COSTS OFF, VERBOSE) EXECUTE shelf3;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE shelf3;
EXPLAIN (COSTS OFF, FORMAT JSON) EXECUTE shelf3;
-- A sublink: planned as written (the planner decides what it checks).
PREPARE shelf_in AS SELECT count(*) FROM shelf WHERE status = 3 AND id IN (SELECT id FROM shelf);
EXPLAIN (COSTS OFF) EXECUTE shelf_in;
EXECUTE shelf_in;
DEALLOCATE shelf_in;
SELECT shelf_hits() AS hits_before;
SELECT count(*) FROM shelf WHERE status = 3;
SELECT count(*) FROM (SELECT id, note FROM shelf WHERE status = 3) q;
SELECT shelf_hits() AS hits_after_2;

-- Misses run the statement, planned then: a count nothing answers, the
-- setting turned off under a cached plan, an unregistered count.
SELECT count(*) FROM shelf WHERE status = 4;
SELECT count(*) FROM (SELECT * FROM shelf WHERE status = 4 OR id < 3) q;
SELECT count(*) FROM shelf a JOIN shelf b ON a.id = b.id + 1 WHERE a.status = 3;
SET fast_count.transparent = off;
EXECUTE shelf3;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE shelf3;
RESET fast_count.transparent;
CREATE FUNCTION shelf_count() RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN RETURN (SELECT count(*) FROM shelf WHERE status = 3); END $$;
SELECT shelf_count();
SELECT fast_count_unregister('SELECT * FROM shelf WHERE status = 3');
INSERT INTO shelf VALUES (501, 3, 'after');
SELECT count(*) FROM shelf WHERE status = 3;
EXECUTE shelf3;
SELECT shelf_count();
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM shelf WHERE status = 3', mode => 'exact')) IS NOT NULL AS registered;
EXECUTE shelf3;

-- A cached plan keeps the identity its text had at plan time, lent by the
-- plan-time memo; once other texts took the memo's place, it derives it
-- again rather than read theirs (here: another count, registered).
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM shelf WHERE status = 1', mode => 'exact')) IS NOT NULL AS registered;
EXECUTE shelf3;
DO $$
DECLARE n bigint;
BEGIN
  FOR i IN 1..60 LOOP
    EXECUTE format('SELECT count(*) FROM shelf WHERE status = 1 /* %s */', i) INTO n;
    IF n <> 100 THEN RAISE EXCEPTION 'status 1: % rows', n; END IF;
  END LOOP;
END $$;
SELECT shelf_hits() AS hits_before;
EXECUTE shelf3;
SELECT shelf_hits() AS hits_after_1;
SELECT fast_count_unregister('SELECT * FROM shelf WHERE status = 1');

-- Under the statement's snapshot: a cursor's count misses rows written
-- after it was opened, by a miss (run under it), by an exact registration
-- (this transaction's changes are not summed for a snapshot that does not
-- see them all), and through fast_count().
BEGIN;
DECLARE miss_cursor CURSOR FOR SELECT count(*) FROM shelf WHERE status = 4;
DECLARE hit_cursor CURSOR FOR SELECT count(*) FROM shelf WHERE status = 3;
DECLARE call_cursor CURSOR FOR SELECT fast_count('SELECT * FROM shelf WHERE status = 3');
INSERT INTO shelf VALUES (502, 3, 'late'), (503, 4, 'late');
FETCH miss_cursor;
FETCH hit_cursor;
FETCH call_cursor;
SELECT count(*) FROM shelf WHERE status = 3;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM shelf WHERE status = 3;
SELECT count(*) FROM shelf WHERE status = 4;
DECLARE later_cursor CURSOR FOR SELECT count(*) FROM shelf WHERE status = 3;
FETCH later_cursor;
ROLLBACK;

-- A transaction that wrote first, under a periodic registration: the live
-- count, with its own rows.
SET fast_count.transparent = registered;
SELECT fast_count_register('SELECT * FROM shelf WHERE status = 2') IS NOT NULL AS registered;
SELECT fast_count_refresh('SELECT * FROM shelf WHERE status = 2');
BEGIN;
INSERT INTO shelf VALUES (504, 2, 'mine');
SELECT count(*) FROM shelf WHERE status = 2;
ROLLBACK;
SELECT count(*) FROM shelf WHERE status = 2;
RESET fast_count.transparent;

-- Privileges: the plan names every relation the statement reads, a
-- subquery's and a view's too.
CREATE ROLE deferred_reader;
GRANT USAGE ON SCHEMA fast_count TO deferred_reader;
CREATE VIEW shelf_view AS SELECT * FROM shelf;
SET ROLE deferred_reader;
SELECT count(*) FROM shelf WHERE status = 3;
SELECT count(*) FROM (SELECT id FROM shelf WHERE status = 3) q;
SELECT count(*) FROM (SELECT * FROM (SELECT id, status FROM shelf) inner_q WHERE status = 3) q;
SELECT count(*) FROM shelf_view WHERE status = 3;
EXECUTE shelf3;
RESET ROLE;
-- The view's owner reads the table for it.
GRANT SELECT ON shelf_view TO deferred_reader;
SET ROLE deferred_reader;
SELECT count(*) FROM shelf_view WHERE status = 3;
SELECT count(*) FROM shelf WHERE status = 3;
RESET ROLE;
GRANT SELECT ON shelf TO deferred_reader;
SET ROLE deferred_reader;
SELECT count(*) FROM shelf WHERE status = 3;
EXECUTE shelf3;
RESET ROLE;
REVOKE SELECT ON shelf FROM deferred_reader;
SET ROLE deferred_reader;
SELECT count(*) FROM shelf WHERE status = 3;
EXECUTE shelf3;
RESET ROLE;

-- The same text read another way: another schema first in search_path.
CREATE SCHEMA other;
CREATE TABLE other.shelf (id int, status int);
INSERT INTO other.shelf VALUES (1, 3), (2, 3);
SELECT count(*) FROM shelf WHERE status = 3;
SET search_path = other, public;
SELECT count(*) FROM shelf WHERE status = 3;
RESET search_path;
SELECT count(*) FROM shelf WHERE status = 3;

-- The table changes under a cached plan: planned again, or an error.
ALTER TABLE shelf ADD COLUMN extra int;
EXECUTE shelf3;
ALTER TABLE shelf RENAME TO shelf_old;
CREATE TABLE shelf (id int, status int);
INSERT INTO shelf VALUES (1, 3);
EXECUTE shelf3;
SELECT count(*) FROM shelf WHERE status = 3;
DROP TABLE shelf;
EXECUTE shelf3;
SELECT count(*) FROM shelf WHERE status = 3;
DEALLOCATE shelf3;
DROP VIEW shelf_view;
DROP TABLE shelf_old;
DROP SCHEMA other CASCADE;
DROP FUNCTION shelf_count();
DROP FUNCTION shelf_hits();
REVOKE USAGE ON SCHEMA fast_count FROM deferred_reader;
DROP ROLE deferred_reader;

-- Without the extension nothing is intercepted; created again, counts are.
CREATE TABLE gone (id int);
INSERT INTO gone VALUES (1), (2), (3);
EXPLAIN (COSTS OFF) SELECT count(*) FROM gone;
DROP EXTENSION fast_count;
EXPLAIN (COSTS OFF) SELECT count(*) FROM gone;
SELECT count(*) FROM gone;
CREATE EXTENSION fast_count;
EXPLAIN (COSTS OFF) SELECT count(*) FROM gone;
SELECT count(*) FROM gone;
DROP TABLE gone;
