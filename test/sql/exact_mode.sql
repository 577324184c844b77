-- Exact mode: fast_count() of a query registered with mode => 'exact' is the
-- exact count under the caller's snapshot, kept by triggers; every check
-- compares it with count(*) in the same statement.
TRUNCATE fast_count.entries;
SET client_min_messages = warning;

-- fast_count(q) and count(*) of q, in one statement (one snapshot).
CREATE FUNCTION exact(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE fc bigint; cs bigint;
BEGIN
  EXECUTE format('SELECT fast_count(%L), count(*) FROM (%s) s', q, q) INTO fc, cs;
  RETURN CASE WHEN fc = cs THEN 'ok ' || fc ELSE format('WRONG: fast_count %s, count(*) %s', fc, cs) END;
END $$;
-- Registers q in exact mode and counts it now (what the worker does next).
CREATE FUNCTION register_exact(q text) RETURNS text LANGUAGE sql AS $$
  SELECT fast_count._exact_settle(fast_count_register(q, mode => 'exact'))
$$;
-- The SQLSTATE and detail of a failed exact registration.
CREATE FUNCTION try_exact(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE state text; detail text;
BEGIN
  PERFORM fast_count_register(q, mode => 'exact');
  RETURN 'registered';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
  RETURN state || ' ' || coalesce(detail, '');
END $$;

CREATE TABLE inbox (id int PRIMARY KEY, owner_id int NOT NULL, unread boolean NOT NULL, subject text);
INSERT INTO inbox SELECT g, g % 10, g % 3 = 0, 'hello ' || g FROM generate_series(1, 300) g;
CREATE TABLE other_table (id int);

-- Which queries qualify: one table, a WHERE clause of immutable expressions
-- over the row. Everything else is refused with 0A000 and the reason.
CREATE VIEW unread_view AS SELECT * FROM inbox WHERE unread;
CREATE MATERIALIZED VIEW inbox_mv AS SELECT * FROM inbox;
CREATE TEMPORARY TABLE scratch (id int);
CREATE UNLOGGED TABLE fragile (id int);
CREATE TABLE guarded (id int);
ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
CREATE TABLE parent_table (id int);
CREATE TABLE child_table () INHERITS (parent_table);
CREATE TABLE parted (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE parted_fragile (id int, k int) PARTITION BY RANGE (k);
CREATE UNLOGGED TABLE parted_fragile_1 PARTITION OF parted_fragile FOR VALUES FROM (0) TO (10);
SELECT q, try_exact(q) AS result FROM (VALUES
  ('SELECT * FROM inbox i JOIN other_table o ON o.id = i.id'),
  ('SELECT * FROM inbox, other_table'),
  ('SELECT owner_id FROM inbox GROUP BY owner_id'),
  ('SELECT count(*) FROM inbox'),
  ('SELECT DISTINCT owner_id FROM inbox'),
  ('SELECT * FROM inbox LIMIT 10'),
  ('SELECT * FROM inbox OFFSET 10'),
  ('SELECT id, rank() OVER (ORDER BY id) FROM inbox'),
  ('SELECT id FROM inbox UNION ALL SELECT id FROM other_table'),
  ('WITH u AS (SELECT * FROM inbox) SELECT * FROM u'),
  ('SELECT * FROM inbox WHERE id IN (SELECT id FROM other_table)'),
  ('SELECT generate_series(1, 2) FROM inbox'),
  ('SELECT * FROM (SELECT * FROM inbox) s'),
  ('SELECT * FROM inbox WHERE subject::timestamptz > now()'),
  ('SELECT * FROM inbox WHERE random() < 0.5'),
  ('SELECT * FROM inbox WHERE ctid > ''(0,1)'''),
  ('SELECT * FROM inbox i WHERE i IS NOT NULL'),
  ('SELECT * FROM inbox TABLESAMPLE SYSTEM (50)'),
  ('SELECT * FROM unread_view'),
  ('SELECT * FROM inbox_mv'),
  ('SELECT * FROM scratch'),
  ('SELECT * FROM fragile'),
  ('SELECT * FROM guarded'),
  ('SELECT * FROM parent_table'),
  ('SELECT * FROM ONLY parted'),
  ('SELECT * FROM parted_fragile'),
  ('SELECT 1')
) AS cases(q);
-- The whole message, with the hint.
SELECT fast_count_register('SELECT owner_id FROM inbox GROUP BY owner_id', mode => 'exact');
SELECT fast_count_register('SELECT * FROM inbox WHERE random() < 0.5', mode => 'exact');
SELECT fast_count_register('SELECT * FROM inbox', mode => 'sometimes');
-- ONLY a plain table without children reads the same rows: fine.
SELECT try_exact('SELECT * FROM ONLY parent_table WHERE id > 0') AS only_parent;
SELECT fast_count_unregister('SELECT * FROM ONLY parent_table WHERE id > 0');
-- Registering needs the privilege to create a trigger on the table.
CREATE ROLE regress_fc_exact_reader;
GRANT SELECT ON inbox TO regress_fc_exact_reader;
SET ROLE regress_fc_exact_reader;
SELECT try_exact('SELECT * FROM inbox WHERE unread') AS without_trigger_privilege;
RESET ROLE;
SELECT count(*) AS nothing_registered FROM fast_count_entries;
DROP VIEW unread_view;
DROP MATERIALIZED VIEW inbox_mv;

-- Registration creates, however many exact queries the table has, one
-- statement trigger with a transition table each for INSERT and DELETE (and
-- UPDATE once a query has a WHERE clause), enabled for ordinary (origin)
-- sessions; one row trigger enabled for replica sessions only (logical
-- replication's apply fires row triggers, not statement triggers); and one
-- TRUNCATE trigger (ALWAYS).
SELECT register_exact('SELECT * FROM inbox WHERE unread AND owner_id = 3') AS unread_3;
SELECT register_exact('SELECT * FROM inbox') AS all_rows;
SELECT register_exact('SELECT * FROM inbox WHERE subject LIKE ''%7%'' OR id < 10') AS like_7;
SELECT query, kind, mode, exact_state FROM fast_count_entries ORDER BY query;
SELECT tgname ~ '^fast_count_exact_((truncate|insert|update|delete)_)?\d+$' AS named, tgenabled, tgtype,
       tgoldtable IS NOT NULL AS old_table, tgnewtable IS NOT NULL AS new_table
  FROM pg_trigger WHERE tgrelid = 'inbox'::regclass ORDER BY tgname;

CREATE TABLE exact_cases (q text);
INSERT INTO exact_cases VALUES ('SELECT * FROM inbox WHERE unread AND owner_id = 3'),
  ('SELECT * FROM inbox'), ('SELECT * FROM inbox WHERE subject LIKE ''%7%'' OR id < 10');
CREATE FUNCTION all_exact() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(exact(q), ', ' ORDER BY q) FROM exact_cases
$$;
SELECT all_exact();

-- Any spelling of the query is the same entry.
SELECT fast_count('select * from inbox i where i.unread and i.owner_id = $1', ARRAY['3']) AS spelled_otherwise;

-- INSERT, UPDATE into and out of the predicate, DELETE.
INSERT INTO inbox SELECT g, 3, true, 'new ' || g FROM generate_series(301, 320) g;
SELECT all_exact();
UPDATE inbox SET unread = false WHERE owner_id = 3 AND id < 100;
UPDATE inbox SET owner_id = 3 WHERE owner_id = 4 AND unread;
UPDATE inbox SET subject = 'seven' WHERE id % 5 = 0;
SELECT all_exact();
DELETE FROM inbox WHERE id > 310;
SELECT all_exact();

-- The count is served from the delta rows, not counted: a (bogus) delta
-- row changes it. (Reads from shared memory, exact_shared_reads, follow
-- only the rows writers publish: this one is written by hand.)
BEGIN;
SET LOCAL fast_count.exact_shared_reads = off;
INSERT INTO fast_count.exact_deltas (key, delta)
  SELECT key, 1000 FROM fast_count_entries WHERE query = 'SELECT * FROM inbox';
SELECT exact('SELECT * FROM inbox') AS with_a_bogus_delta;
ROLLBACK;

-- The caller's own uncommitted writes count; a rollback forgets them.
BEGIN;
INSERT INTO inbox SELECT g, 3, true, 'x' FROM generate_series(1001, 1005) g;
SELECT all_exact() AS own_writes;
DELETE FROM inbox WHERE owner_id = 3;
SELECT all_exact() AS own_writes;
ROLLBACK;
SELECT all_exact() AS after_rollback;

-- Savepoints: a rolled back savepoint's changes do not count, a released
-- one's do; also in PL/pgSQL exception blocks.
BEGIN;
INSERT INTO inbox VALUES (2001, 3, true, 'a');
SAVEPOINT one;
INSERT INTO inbox VALUES (2002, 3, true, 'b');
SAVEPOINT two;
DELETE FROM inbox WHERE owner_id = 3;
SELECT all_exact() AS in_savepoint_two;
ROLLBACK TO SAVEPOINT two;
SELECT all_exact() AS two_rolled_back;
RELEASE SAVEPOINT one;
SAVEPOINT three;
UPDATE inbox SET unread = false WHERE owner_id = 3;
ROLLBACK TO SAVEPOINT three;
DO $$
BEGIN
  INSERT INTO inbox VALUES (2003, 3, true, 'c');
  BEGIN
    INSERT INTO inbox VALUES (2004, 3, true, 'd');
    RAISE EXCEPTION 'undo the inner block';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
END $$;
SELECT all_exact() AS before_commit;
COMMIT;
SELECT all_exact() AS committed, (SELECT count(*) FROM inbox WHERE id > 2000) AS kept_rows;

-- Two-phase commit: the delta row is written at PREPARE, seen at COMMIT
-- PREPARED, gone with ROLLBACK PREPARED.
BEGIN;
INSERT INTO inbox VALUES (2101, 3, true, 'prepared');
PREPARE TRANSACTION 'exact_mode_1';
BEGIN;
DELETE FROM inbox WHERE owner_id = 3;
PREPARE TRANSACTION 'exact_mode_2';
SELECT all_exact() AS while_prepared;
COMMIT PREPARED 'exact_mode_1';
ROLLBACK PREPARED 'exact_mode_2';
SELECT all_exact() AS after_commit_prepared;

-- Rows written in replica sessions (logical replication) count too.
SET session_replication_role = replica;
INSERT INTO inbox VALUES (2201, 3, true, 'replicated 7');
RESET session_replication_role;
SELECT all_exact() AS replica_session;

-- COPY.
COPY inbox FROM STDIN;
3001	3	t	copied
3002	3	f	copied 7
3003	5	t	copied
\.
SELECT all_exact() AS after_copy;

-- INSERT ... ON CONFLICT: DO NOTHING counts what was inserted, DO UPDATE
-- what the update moved in or out.
INSERT INTO inbox VALUES (3001, 3, true, 'dup'), (3004, 3, true, 'new')
  ON CONFLICT (id) DO NOTHING;
SELECT all_exact() AS on_conflict_do_nothing;
INSERT INTO inbox VALUES (3001, 3, false, 'read'), (3003, 3, true, 'moved in'), (3005, 3, true, 'new')
  ON CONFLICT (id) DO UPDATE SET unread = excluded.unread, owner_id = excluded.owner_id;
SELECT all_exact() AS on_conflict_do_update;

-- TRUNCATE: the count restarts at 0, also inside a transaction with writes
-- before and after it; a rolled back TRUNCATE changes nothing.
BEGIN;
TRUNCATE inbox;
SELECT all_exact() AS truncated_rolled_back_later;
ROLLBACK;
SELECT all_exact() AS truncate_rolled_back;
BEGIN;
INSERT INTO inbox VALUES (4001, 3, true, 'before');
TRUNCATE inbox;
INSERT INTO inbox VALUES (4002, 3, true, 'after'), (4003, 1, false, 'after 7');
SELECT all_exact() AS truncated_in_transaction;
COMMIT;
SELECT all_exact() AS after_truncate;
INSERT INTO inbox SELECT g, g % 10, g % 3 = 0, 'hello ' || g FROM generate_series(1, 300) g;
SELECT all_exact() AS refilled;

-- The worker folds the delta rows of a query into one; the count stays.
SELECT fast_count._exact_fold(key) >= 0 AS folded FROM fast_count_entries WHERE query = 'SELECT * FROM inbox';
SELECT count(*) AS rows_after_fold FROM fast_count.exact_deltas d
  JOIN fast_count_entries e ON e.key = d.key WHERE e.query = 'SELECT * FROM inbox';
SELECT all_exact() AS after_fold;

-- A table whose exact queries have no WHERE clause gets no UPDATE trigger
-- (an UPDATE cannot change such a count); a query with one adds it. MERGE
-- fires the row triggers like the commands it runs.
CREATE TABLE ex_log (id int, level int);
INSERT INTO ex_log SELECT g, g % 5 FROM generate_series(1, 100) g;
SELECT register_exact('SELECT * FROM ex_log') AS all_log;
SELECT tgtype & 16 <> 0 AS on_update FROM pg_trigger WHERE tgrelid = 'ex_log'::regclass AND tgname NOT LIKE '%truncate%';
UPDATE ex_log SET level = level + 1;
MERGE INTO ex_log l USING (SELECT g AS id FROM generate_series(95, 105) g) s ON l.id = s.id
  WHEN MATCHED AND l.id > 97 THEN DELETE
  WHEN MATCHED THEN UPDATE SET level = 0
  WHEN NOT MATCHED THEN INSERT VALUES (s.id, 9);
SELECT exact('SELECT * FROM ex_log') AS after_update_and_merge;
SELECT register_exact('SELECT * FROM ex_log WHERE level = 0') AS level_0;
SELECT tgtype & 16 <> 0 AS on_update FROM pg_trigger WHERE tgrelid = 'ex_log'::regclass AND tgname NOT LIKE '%truncate%';
UPDATE ex_log SET level = 0 WHERE id < 10;
MERGE INTO ex_log l USING (SELECT g AS id FROM generate_series(1, 20) g) s ON l.id = s.id
  WHEN MATCHED AND l.id > 15 THEN DELETE
  WHEN MATCHED THEN UPDATE SET level = 7;
SELECT exact('SELECT * FROM ex_log') AS all_log, exact('SELECT * FROM ex_log WHERE level = 0') AS level_0;

-- Partitioned tables: the row trigger is cloned to every partition,
-- present and future; each partition gets a TRUNCATE trigger.
CREATE TABLE sales (id int, region text, amount int, paid boolean) PARTITION BY LIST (region);
CREATE TABLE sales_eu PARTITION OF sales FOR VALUES IN ('eu');
CREATE TABLE sales_us (paid boolean, amount int, region text, id int);  -- another column order
ALTER TABLE sales ATTACH PARTITION sales_us FOR VALUES IN ('us');
INSERT INTO sales SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g % 100, g % 4 = 0
  FROM generate_series(1, 1000) g;
SELECT register_exact('SELECT * FROM sales WHERE NOT paid AND amount >= 50') AS unpaid_big;
SELECT register_exact('SELECT * FROM sales') AS all_sales;
DELETE FROM exact_cases;
INSERT INTO exact_cases VALUES ('SELECT * FROM sales WHERE NOT paid AND amount >= 50'), ('SELECT * FROM sales');
SELECT all_exact();
SELECT tgrelid::regclass AS relation, count(*) AS triggers, bool_or(tgparentid <> 0) AS has_clone,
       string_agg(tgenabled::text, '' ORDER BY tgname) AS firing
  FROM pg_trigger WHERE tgname LIKE 'fast_count_exact_%' AND tgrelid::regclass::text LIKE 'sales%'
 GROUP BY 1 ORDER BY 1;
-- An UPDATE of the partitioned table that moves rows between partitions
-- (DELETE + INSERT on the partitions) counts each row once.
UPDATE sales SET region = 'us', amount = amount + 10 WHERE region = 'eu' AND id < 300;
SELECT all_exact() AS cross_partition_update;
-- Writes straight to a partition.
INSERT INTO sales_eu VALUES (5001, 'eu', 99, false), (5002, 'eu', 1, false);
UPDATE sales_us SET paid = true WHERE id < 200;
DELETE FROM sales_eu WHERE id > 900;
SELECT all_exact() AS direct_partition_writes;
-- A new partition.
CREATE TABLE sales_asia PARTITION OF sales FOR VALUES IN ('asia');
SELECT count(*) AS asia_triggers, string_agg(tgenabled::text, '' ORDER BY tgname) AS firing
  FROM pg_trigger WHERE tgrelid = 'sales_asia'::regclass;
INSERT INTO sales VALUES (6001, 'asia', 70, false);
SELECT all_exact() AS new_partition;
-- TRUNCATE of one partition: counted live until the worker has counted
-- again; of the partitioned table: 0 right away.
TRUNCATE sales_us;
SELECT all_exact() AS one_partition_truncated;
SELECT fast_count._exact_settle(key) AS state FROM fast_count_entries WHERE query LIKE '%FROM sales%' ORDER BY query;
SELECT all_exact() AS counted_again;
BEGIN;
TRUNCATE sales;
SELECT all_exact() AS all_truncated;
INSERT INTO sales VALUES (7001, 'eu', 60, false), (7002, 'asia', 60, true);
SELECT all_exact() AS refilled;
COMMIT;
SELECT exact_state FROM fast_count_entries WHERE query LIKE '%FROM sales%' ORDER BY query;
-- ATTACH and DETACH move rows in and out without row triggers: counted
-- live until counted again.
CREATE TABLE sales_latam (id int, region text, amount int, paid boolean);
INSERT INTO sales_latam VALUES (8001, 'latam', 90, false), (8002, 'latam', 5, true);
ALTER TABLE sales ATTACH PARTITION sales_latam FOR VALUES IN ('latam');
SELECT all_exact() AS attached;
ALTER TABLE sales DETACH PARTITION sales_asia;
SELECT all_exact() AS detached;
DROP TABLE sales_eu;
SELECT all_exact() AS partition_dropped;
SELECT fast_count._exact_settle(key) AS state FROM fast_count_entries WHERE query LIKE '%FROM sales%' ORDER BY query;
INSERT INTO sales VALUES (8003, 'latam', 77, false);
SELECT all_exact() AS counted_again;
SELECT count(*) AS detached_keeps_no_trigger FROM pg_trigger WHERE tgrelid = 'sales_asia'::regclass;

-- ALTER TABLE that changes nothing the count depends on keeps the count
-- (a new column changes what SELECT * reads, hence its key: the
-- registration follows the text, with its count).
DELETE FROM exact_cases;
INSERT INTO exact_cases VALUES ('SELECT * FROM inbox WHERE unread AND owner_id = 3'),
  ('SELECT * FROM inbox'), ('SELECT * FROM inbox WHERE subject LIKE ''%7%'' OR id < 10');
SELECT key AS old_key FROM fast_count_entries WHERE query = 'SELECT * FROM inbox' \gset
BEGIN;
INSERT INTO inbox VALUES (8888, 3, true, 'in the same transaction as ALTER 7');
ALTER TABLE inbox ADD COLUMN archived boolean DEFAULT false, ALTER COLUMN subject SET STATISTICS 200;
SELECT all_exact() AS altered_in_transaction;
COMMIT;
SELECT query, exact_state, key <> :'old_key' AS new_key FROM fast_count_entries WHERE query LIKE '%FROM inbox%' ORDER BY query;
SELECT all_exact() AS column_added;
SELECT count(*) AS old_key_rows FROM fast_count.exact_deltas WHERE key = :'old_key';
-- Retyping a column of the predicate: the query now reads as another key,
-- and the registration follows it (counted live until counted again).
ALTER TABLE inbox ALTER COLUMN owner_id TYPE bigint;
SELECT all_exact() AS retyped;
SELECT fast_count._exact_settle(key) AS state FROM fast_count_entries WHERE query LIKE '%FROM inbox%' ORDER BY query;
INSERT INTO inbox VALUES (9001, 3, true, 'after retype 7');
SELECT all_exact() AS after_retype;
SELECT count(*) AS entries FROM fast_count_entries WHERE query LIKE '%FROM inbox%';
-- Dropping a column of the predicate: that query no longer reads; the error
-- is on its entry, the others go on.
ALTER TABLE inbox DROP COLUMN unread;
SELECT query, fast_count._exact_settle(key) AS state FROM fast_count_entries
 WHERE query LIKE '%FROM inbox%' ORDER BY query;
SELECT query, exact_state, last_error FROM fast_count_entries WHERE query LIKE '%FROM inbox%' ORDER BY query;
SELECT fast_count('SELECT * FROM inbox WHERE unread AND owner_id = 3');
SELECT exact('SELECT * FROM inbox') AS all_rows_still_exact;

-- Our triggers cannot be dropped or renamed while exact queries need them.
CREATE FUNCTION try_ddl(command text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE state text; detail text;
BEGIN
  EXECUTE command;
  RETURN 'done';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
  RETURN state || ' ' || coalesce(detail, '');
END $$;
SELECT try_ddl(format('DROP TRIGGER %I ON inbox', tgname)) AS drop_trigger,
       try_ddl(format('ALTER TRIGGER %I ON inbox RENAME TO mine', tgname)) AS rename_trigger
  FROM pg_trigger WHERE tgrelid = 'inbox'::regclass AND tgname NOT LIKE '%truncate%';

-- Unregistering removes the delta rows, and the triggers with the last
-- exact query of the table; so does switching a query to periodic mode.
SELECT fast_count_unregister('SELECT * FROM inbox WHERE unread AND owner_id = 3') AS unregistered;
SELECT fast_count_unregister('SELECT * FROM inbox WHERE subject LIKE ''%7%'' OR id < 10') AS unregistered;
SELECT count(*) AS inbox_triggers FROM pg_trigger WHERE tgrelid = 'inbox'::regclass AND tgname LIKE 'fast_count%';
SELECT fast_count_register('SELECT * FROM inbox', mode => 'periodic') IS NOT NULL AS now_periodic;
SELECT mode, exact_state FROM fast_count_entries WHERE query = 'SELECT * FROM inbox';
SELECT count(*) AS inbox_triggers FROM pg_trigger WHERE tgrelid = 'inbox'::regclass AND tgname LIKE 'fast_count%';
SELECT count(*) AS inbox_deltas FROM fast_count.exact_deltas d
 WHERE NOT EXISTS (SELECT 1 FROM fast_count.entries e WHERE e.key = d.key AND e.mode = 'exact');
SELECT fast_count_unregister('SELECT * FROM inbox') AS unregistered;

-- DROP TABLE: the delta rows go; the registration stays, with the reason.
SELECT register_exact('SELECT * FROM other_table WHERE id > 0') AS other_table;
INSERT INTO other_table SELECT generate_series(1, 10);
DROP TABLE other_table;
-- (The worker may already have retried it and recorded why that failed.)
SELECT query, exact_state, last_error IN ('a relation the query reads was dropped',
                                          'relation "other_table" does not exist') AS error_recorded
  FROM fast_count_entries WHERE query LIKE '%FROM other_table%';
SELECT count(*) AS other_deltas FROM fast_count.exact_deltas d
  JOIN fast_count.entries e ON e.key = d.key WHERE e.query LIKE '%FROM other_table%';
-- A table of that name comes back: the registration follows its text (a
-- new key), gets triggers on the new table and is counted again.
CREATE TABLE other_table (id int);
INSERT INTO other_table SELECT generate_series(1, 5);
SELECT fast_count._exact_settle(key) AS state, last_error FROM fast_count_entries WHERE query LIKE '%FROM other_table%';
INSERT INTO other_table VALUES (6), (-1);
SELECT exact('SELECT * FROM other_table WHERE id > 0') AS recreated,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'other_table'::regclass) AS triggers;
SELECT fast_count_unregister('SELECT * FROM other_table WHERE id > 0') AS unregistered;
DROP TABLE other_table;

-- DROP EXTENSION removes every trigger and delta row.
SELECT count(*) > 0 AS orders_triggers_before FROM pg_trigger WHERE tgname LIKE 'fast_count_exact_%';
DROP EXTENSION fast_count;
SELECT count(*) AS triggers_after FROM pg_trigger WHERE tgname LIKE 'fast_count_exact_%';
SELECT count(*) AS tables_after FROM pg_class WHERE relname = 'exact_deltas';
INSERT INTO sales VALUES (9999, 'latam', 1, true);
CREATE EXTENSION fast_count;
DROP TABLE ex_log, sales, sales_asia, exact_cases, parted, parted_fragile, parent_table, child_table, guarded, fragile, inbox CASCADE;
DROP ROLE regress_fc_exact_reader;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP FUNCTION exact(text), register_exact(text), try_exact(text), all_exact(), try_ddl(text);
RESET client_min_messages;
