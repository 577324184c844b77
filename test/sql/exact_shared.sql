-- Exact reads from shared memory (fast_count.exact_shared_reads, on by
-- default with the library preloaded): every count is compared with
-- count(*) in the same statement, with the shared reads on and off, across
-- everything that rebases a count; a cached plan (transparent mode) is not
-- frozen by the identity it keeps.
TRUNCATE fast_count.entries;
SET client_min_messages = warning;

CREATE FUNCTION shared_reads() RETURNS bigint
  AS 'fast_count', 'fast_count_exact_fast_reads' LANGUAGE C;
-- fast_count(q) = count(*) of q, read with the shared reads off and on.
CREATE FUNCTION both_ways(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE off_fc bigint; on_fc bigint; cs bigint;
BEGIN
  SET LOCAL fast_count.exact_shared_reads = off;
  EXECUTE format('SELECT fast_count(%L), count(*) FROM (%s) s', q, q) INTO off_fc, cs;
  SET LOCAL fast_count.exact_shared_reads = on;
  EXECUTE format('SELECT fast_count(%L) FROM (SELECT 1) s', q) INTO on_fc;
  RETURN CASE WHEN off_fc = cs AND on_fc = cs THEN 'ok ' || cs
         ELSE format('WRONG: rows %s, shared %s, count(*) %s', off_fc, on_fc, cs) END;
END $$;
-- Reads q until one is served from shared memory (the first read starts
-- the mirror, a later one finds it complete once every transaction that
-- was running then is over), one transaction per read: whether one was,
-- and whether all agreed.
CREATE PROCEDURE served_shared(q text, INOUT result text DEFAULT NULL) LANGUAGE plpgsql AS $$
DECLARE before bigint := shared_reads(); fc bigint; cs bigint;
BEGIN
  FOR i IN 1..500 LOOP
    EXECUTE format('SELECT fast_count(%L), count(*) FROM (%s) s', q, q) INTO fc, cs;
    IF fc <> cs THEN
      result := format('WRONG: fast_count %s, count(*) %s', fc, cs);
      RETURN;
    END IF;
    IF shared_reads() > before THEN
      result := 'served from shared memory: ' || fc;
      RETURN;
    END IF;
    COMMIT;
    PERFORM pg_sleep(0.01);
  END LOOP;
  result := 'never served from shared memory';
END $$;

CREATE TABLE tasks (id int PRIMARY KEY, open boolean NOT NULL, owner int);
INSERT INTO tasks SELECT g, g % 4 = 0, g % 7 FROM generate_series(1, 400) g;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM tasks WHERE open', mode => 'exact'));
CALL served_shared('SELECT * FROM tasks WHERE open');

-- Writes, a rollback, a savepoint, own uncommitted writes.
INSERT INTO tasks SELECT g, true, 1 FROM generate_series(401, 450) g;
UPDATE tasks SET open = NOT open WHERE id % 10 = 0;
DELETE FROM tasks WHERE id BETWEEN 100 AND 120;
CALL served_shared('SELECT * FROM tasks WHERE open');
BEGIN;
INSERT INTO tasks VALUES (1001, true, 2);
SAVEPOINT s;
DELETE FROM tasks WHERE open AND id < 200;
SELECT both_ways('SELECT * FROM tasks WHERE open') AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT both_ways('SELECT * FROM tasks WHERE open') AS own_insert;
ROLLBACK;
CALL served_shared('SELECT * FROM tasks WHERE open');

-- 2PC: prepared, then committed by COMMIT PREPARED (no end is seen by the
-- writer's backend: the clog says).
BEGIN;
DELETE FROM tasks WHERE open AND id < 50;
PREPARE TRANSACTION 'exact_shared_1';
SELECT both_ways('SELECT * FROM tasks WHERE open') AS while_prepared;
COMMIT PREPARED 'exact_shared_1';
SELECT both_ways('SELECT * FROM tasks WHERE open') AS committed_prepared;
CALL served_shared('SELECT * FROM tasks WHERE open');

-- TRUNCATE rebases the count, in its transaction and after.
BEGIN;
INSERT INTO tasks VALUES (2001, true, 3);
TRUNCATE tasks;
INSERT INTO tasks VALUES (1, true, 1), (2, false, 1), (3, true, 2);
SELECT both_ways('SELECT * FROM tasks WHERE open') AS truncated_here;
COMMIT;
SELECT both_ways('SELECT * FROM tasks WHERE open') AS after_truncate;
CALL served_shared('SELECT * FROM tasks WHERE open');
BEGIN;
TRUNCATE tasks;
ROLLBACK;
CALL served_shared('SELECT * FROM tasks WHERE open');

-- ALTER TABLE that may change rows: counted live until counted again (in
-- the ALTER's transaction here, before the worker would).
BEGIN;
ALTER TABLE tasks ALTER COLUMN open TYPE boolean USING open AND id % 3 <> 0;
SELECT both_ways('SELECT * FROM tasks WHERE open') AS during_rederive;
SELECT fast_count._exact_settle(key) FROM fast_count_entries WHERE query = 'SELECT * FROM tasks WHERE open';
COMMIT;
INSERT INTO tasks SELECT g, g % 2 = 0, 1 FROM generate_series(10, 60) g;
CALL served_shared('SELECT * FROM tasks WHERE open');

-- Periodic mode and back, unregister and register again.
SELECT fast_count_register('SELECT * FROM tasks WHERE open') IS NOT NULL AS periodic;
INSERT INTO tasks VALUES (500, true, 1);
SELECT shared_reads() AS before_periodic_read \gset
SELECT fast_count('SELECT * FROM tasks WHERE open') >= 0 AS periodic_read;
SELECT shared_reads() = :before_periodic_read AS periodic_not_from_shared_memory;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM tasks WHERE open', mode => 'exact'));
INSERT INTO tasks VALUES (501, true, 1);
CALL served_shared('SELECT * FROM tasks WHERE open');
SELECT fast_count_unregister('SELECT * FROM tasks WHERE open');
DELETE FROM tasks WHERE id = 501;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM tasks WHERE open', mode => 'exact'));
CALL served_shared('SELECT * FROM tasks WHERE open');

-- SERIALIZABLE reads the rows (their predicate locks make concurrent
-- writers of the count conflicts), with the same answer.
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT shared_reads() AS before_serializable \gset
SELECT fast_count('SELECT * FROM tasks WHERE open') = count(*) AS serializable_exact
  FROM tasks WHERE open;
SELECT shared_reads() = :before_serializable AS serializable_reads_rows;
COMMIT;

-- Transparent mode: a prepared count keeps its plan and its identity, not
-- its count; a setting that is part of the key makes it another count
-- (runs its plan), and back.
PREPARE open_tasks AS SELECT count(*) FROM tasks WHERE open;
EXECUTE open_tasks;
INSERT INTO tasks SELECT g, true, 1 FROM generate_series(3001, 3010) g;
EXECUTE open_tasks;
SELECT count(*) AS plain_count FROM tasks WHERE open OFFSET 0;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE open_tasks;
SET TimeZone = 'Asia/Tokyo';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE open_tasks;
RESET TimeZone;
DELETE FROM tasks WHERE id > 3005;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE open_tasks;
EXECUTE open_tasks;
-- With a parameter: the identity kept for one value never serves another.
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM tasks WHERE owner = $1',
                                                    params => ARRAY['1'], mode => 'exact'));
PREPARE owned(int) AS SELECT count(*) FROM tasks WHERE owner = $1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE owned(1);
SELECT o, (SELECT count(*) FROM tasks WHERE owner = o) AS plain_count
  FROM generate_series(1, 3) o;
EXECUTE owned(1);
EXECUTE owned(2);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE owned(2);
EXECUTE owned(1);
INSERT INTO tasks VALUES (4001, false, 1), (4002, false, 2);
EXECUTE owned(1);
EXECUTE owned(2);
EXECUTE owned(3);
EXECUTE owned(1);
EXECUTE owned(2);
EXECUTE owned(1);
EXECUTE owned(2);
DEALLOCATE owned;
SELECT fast_count_unregister('SELECT * FROM tasks WHERE owner = $1', ARRAY['1']);

-- The same plan under another role: the executor checks its privileges.
CREATE ROLE exact_shared_reader;
SET ROLE exact_shared_reader;
EXECUTE open_tasks;
RESET ROLE;
GRANT SELECT ON tasks TO exact_shared_reader;
SET ROLE exact_shared_reader;
EXECUTE open_tasks;
RESET ROLE;
DEALLOCATE open_tasks;

SELECT fast_count_unregister('SELECT * FROM tasks WHERE open');

-- A grouped registration: each group read has a mirror of its own, valid
-- only from the registration's current base on. Every change of that base
-- (TRUNCATE, unregistering, counting again after DDL) must reach the
-- groups' mirrors: both_ways() right after each would see a stale mirror.
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM tasks WHERE open',
                                                    mode => 'exact', group_by => ARRAY['owner']));
CALL served_shared('SELECT * FROM tasks WHERE open AND owner = 1');
CALL served_shared('SELECT * FROM tasks WHERE open AND owner IN (1, 2)');
CALL served_shared('SELECT * FROM tasks WHERE open AND owner IS NULL');
-- Writes that move rows between groups, into and out of the predicate, and
-- into a group nobody read yet.
UPDATE tasks SET owner = 2 WHERE owner = 1 AND id % 3 = 0;
UPDATE tasks SET open = NOT open WHERE owner = 2 AND id % 5 = 0;
INSERT INTO tasks VALUES (5001, true, NULL), (5002, true, 99);
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 1') AS moved_out;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner IN (1, 2)') AS moved_within;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner IS NULL') AS null_group;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 99') AS new_group;
CALL served_shared('SELECT * FROM tasks WHERE open AND owner = 1');
CALL served_shared('SELECT * FROM tasks WHERE open AND owner = 99');
-- Own uncommitted writes, a savepoint rolled back.
BEGIN;
UPDATE tasks SET owner = 1 WHERE owner = 2;
SAVEPOINT s;
DELETE FROM tasks WHERE owner = 1 AND id % 2 = 0;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 1') AS group_in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 1') AS group_own_update;
ROLLBACK;
CALL served_shared('SELECT * FROM tasks WHERE open AND owner = 1');
-- TRUNCATE: in its transaction the groups are read from their rows, and
-- after it commits the mirrors started before it are not used.
BEGIN;
TRUNCATE tasks;
INSERT INTO tasks VALUES (1, true, 1), (2, true, 1), (3, false, 1);
SELECT shared_reads() AS before_truncated_read \gset
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 1') AS group_truncated_here;
SELECT shared_reads() = :before_truncated_read AS truncated_here_reads_rows;
COMMIT;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 1') AS group_after_truncate;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 99') AS emptied_group;
CALL served_shared('SELECT * FROM tasks WHERE open AND owner = 1');
-- Unregistered, written while nobody kept the count, registered again.
SELECT fast_count_unregister('SELECT * FROM tasks WHERE open', group_by => ARRAY['owner']);
INSERT INTO tasks SELECT g, true, 1 FROM generate_series(10, 30) g;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM tasks WHERE open',
                                                    mode => 'exact', group_by => ARRAY['owner']));
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 1') AS group_registered_again;
CALL served_shared('SELECT * FROM tasks WHERE open AND owner = 1');
-- DDL that may change rows: counted again from new bases.
ALTER TABLE tasks ALTER COLUMN open TYPE boolean USING open AND id % 4 <> 0;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 1') AS group_during_rederive;
SELECT fast_count._exact_settle(key) FROM fast_count_entries
 WHERE query = 'SELECT * FROM tasks WHERE open' AND group_by IS NOT NULL;
SELECT both_ways('SELECT * FROM tasks WHERE open AND owner = 1') AS group_counted_again;
CALL served_shared('SELECT * FROM tasks WHERE open AND owner = 1');
SELECT fast_count_unregister('SELECT * FROM tasks WHERE open', group_by => ARRAY['owner']);

-- More groups read than there are slots (1,024), with writes between the
-- rounds: every read exact, whether its key has a slot, lost it, or found
-- none free.
CREATE TABLE many (id int, g int);
CREATE INDEX ON many (g);
INSERT INTO many SELECT i, i % 1500 FROM generate_series(1, 6000) i;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM many', mode => 'exact',
                                                    group_by => ARRAY['g']));
CREATE PROCEDURE read_every_group(round int) LANGUAGE plpgsql AS $$
DECLARE fc bigint; cs bigint; wrong int := 0;
BEGIN
  FOR v IN 0..1499 LOOP
    fc := fast_count(format('SELECT * FROM many WHERE g = %s', v));
    SELECT count(*) INTO cs FROM many WHERE g = v;
    IF fc <> cs THEN wrong := wrong + 1; END IF;
    IF v % 100 = 0 THEN COMMIT; END IF;
  END LOOP;
  RAISE WARNING 'round %: % of 1500 groups wrong', round, wrong;
END $$;
CALL read_every_group(1);
CALL read_every_group(2);
UPDATE many SET g = (g + 7) % 1500 WHERE id % 5 = 0;
INSERT INTO many SELECT i, i % 1499 FROM generate_series(6001, 7000) i;
SELECT shared_reads() AS before_many \gset
CALL read_every_group(3);
DELETE FROM many WHERE id % 3 = 0;
CALL read_every_group(4);
SELECT shared_reads() > :before_many AS many_groups_some_from_shared_memory;
DROP PROCEDURE read_every_group(int);
SELECT fast_count_unregister('SELECT * FROM many', group_by => ARRAY['g']);
DROP TABLE many;
DROP TABLE tasks;
DROP ROLE exact_shared_reader;
DROP PROCEDURE served_shared(text, text);
DROP FUNCTION both_ways(text), shared_reads();
