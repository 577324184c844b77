-- Exact mode's statement triggers: ordinary statements are counted from
-- their transition tables (no after-trigger event per row), replica sessions
-- (logical replication's apply) by the row trigger; every way rows reach a
-- table counts each row exactly once. Every check compares fast_count()
-- with count(*) in the same statement.
TRUNCATE fast_count.entries;
SET client_min_messages = warning;
-- A fresh worker for this database: the one that served earlier suites
-- may read query texts with custom settings they left behind (a
-- placeholder such as myext.flavour), re-deriving our queries under other
-- keys than this session does.
SELECT count(pg_terminate_backend(pid)) >= 0 AS fresh_worker FROM pg_stat_activity
 WHERE backend_type = 'fast_count worker' AND datname = current_database();

CREATE FUNCTION exact(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE fc bigint; cs bigint;
BEGIN
  EXECUTE format('SELECT fast_count(%L), count(*) FROM (%s) s', q, q) INTO fc, cs;
  RETURN CASE WHEN fc = cs THEN 'ok ' || fc ELSE format('WRONG: fast_count %s, count(*) %s', fc, cs) END;
END $$;
CREATE FUNCTION register_exact(q text) RETURNS text LANGUAGE sql AS $$
  SELECT fast_count._exact_settle(fast_count_register(q, mode => 'exact'))
$$;
-- Settles the entries of a table now (the worker may be at it too), then
-- says their states, read under a snapshot of its own (a PL/pgSQL
-- statement's: a SQL function's statements share one).
CREATE FUNCTION settle(tab text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE states text;
BEGIN
  PERFORM count(fast_count._exact_settle(key)) FROM fast_count_entries WHERE query LIKE '%FROM ' || tab || '%';
  SELECT string_agg(exact_state || CASE WHEN last_error IS NOT NULL THEN ' (error)' ELSE '' END, ', ' ORDER BY query)
    INTO states FROM fast_count_entries WHERE query LIKE '%FROM ' || tab || '%';
  RETURN states;
END $$;
CREATE TABLE cases (q text);
CREATE FUNCTION all_exact() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(exact(q), ', ' ORDER BY q) FROM cases
$$;
-- Our triggers on a relation: event (row for the row trigger), the origin
-- they serve when it is another table, and firing (O origin, R replica, A
-- always).
CREATE FUNCTION our_triggers(rel regclass) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(t, ' ' ORDER BY t) FROM (
    SELECT format('%s%s:%s', coalesce(substring(tgname from '^fast_count_exact_([a-z]+)_'), 'row'),
                  CASE WHEN substring(tgname from '(\d+)$')::oid = rel THEN ''
                       ELSE '(' || substring(tgname from '(\d+)$')::oid::regclass || ')' END,
                  tgenabled) AS t
      FROM pg_trigger WHERE tgrelid = rel AND tgname LIKE 'fast_count_exact_%') s
$$;

CREATE TABLE books (id int PRIMARY KEY, author int, title text);
INSERT INTO books SELECT g, g % 10, 'book ' || g FROM generate_series(1, 1000) g;
SELECT register_exact('SELECT * FROM books') AS all_books;
SELECT register_exact('SELECT * FROM books WHERE author = 1') AS author_1;
INSERT INTO cases VALUES ('SELECT * FROM books'), ('SELECT * FROM books WHERE author = 1');
SELECT our_triggers('books');
SELECT all_exact() AS registered;

-- Multi-row statements, with transition tables bigger than work_mem (they
-- spill to temporary files).
SET work_mem = '64kB';
INSERT INTO books SELECT g, g % 10, 'bulk ' || g FROM generate_series(1001, 21000) g;
SELECT all_exact() AS bulk_insert;
UPDATE books SET author = 1 WHERE id % 7 = 0;
SELECT all_exact() AS bulk_update;
DELETE FROM books WHERE id % 3 = 0;
SELECT all_exact() AS bulk_delete;
COPY books FROM STDIN;
30001	1	copied
30002	2	copied
30003	1	copied
\.
SELECT all_exact() AS copy;
RESET work_mem;
-- A statement that changes no row.
UPDATE books SET author = 1 WHERE false;
DELETE FROM books WHERE id < 0;
SELECT all_exact() AS no_rows;

-- Writable CTEs: several statements on the table in one query, and a
-- DELETE feeding an INSERT.
WITH a AS (INSERT INTO books VALUES (40001, 1, 'cte'), (40002, 3, 'cte') RETURNING id)
INSERT INTO books SELECT id + 1000, 1, 'cte 2' FROM a;
SELECT all_exact() AS cte_inserts;
WITH d AS (DELETE FROM books WHERE id BETWEEN 40001 AND 41002 RETURNING *),
     u AS (UPDATE books SET author = 1 WHERE id BETWEEN 2 AND 20 RETURNING *)
INSERT INTO books SELECT id + 100000, 1, title FROM d;
SELECT all_exact() AS cte_mixed;

-- INSERT ... ON CONFLICT over many rows: inserted and updated ones.
INSERT INTO books SELECT g, 1, 'upsert' FROM generate_series(990, 1010) g
  ON CONFLICT (id) DO UPDATE SET author = excluded.author;
INSERT INTO books SELECT g, 5, 'upsert' FROM generate_series(1000, 1030) g
  ON CONFLICT (id) DO NOTHING;
SELECT all_exact() AS upserts;

-- MERGE with several actions of each kind.
MERGE INTO books b USING (SELECT g AS id FROM generate_series(1, 60) g) s ON b.id = s.id
  WHEN MATCHED AND s.id < 10 THEN DELETE
  WHEN MATCHED AND s.id < 20 THEN UPDATE SET author = 1
  WHEN MATCHED THEN UPDATE SET author = 2
  WHEN NOT MATCHED AND s.id % 2 = 0 THEN INSERT VALUES (s.id, 1, 'merged')
  WHEN NOT MATCHED THEN INSERT VALUES (s.id, 4, 'merged');
SELECT all_exact() AS merge;

-- A user's own statement trigger reading the same transition table, and a
-- user's row trigger writing to the table (its INSERT is a statement of
-- its own).
CREATE TABLE seen (n bigint);
CREATE FUNCTION count_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO seen SELECT count(*) FROM new_rows; RETURN NULL; END $$;
CREATE TRIGGER a_user_statement AFTER INSERT ON books REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_new();
CREATE FUNCTION echo() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.author = 7 AND NEW.id < 200000 THEN
    INSERT INTO books VALUES (NEW.id + 200000, 1, 'echo');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER a_user_row AFTER INSERT ON books FOR EACH ROW EXECUTE FUNCTION echo();
INSERT INTO books SELECT g, 7, 'echoed' FROM generate_series(50001, 50100) g;
SELECT all_exact() AS user_triggers,
       (SELECT format('%s statements, %s rows', count(*), sum(n)) FROM seen) AS user_trigger_saw;
DROP TRIGGER a_user_statement ON books;
DROP TRIGGER a_user_row ON books;

-- Foreign-key cascades run statements of their own.
CREATE TABLE authors (id int PRIMARY KEY);
INSERT INTO authors SELECT g FROM generate_series(0, 20) g;
CREATE TABLE reviews (id int, author int REFERENCES authors ON DELETE CASCADE ON UPDATE SET NULL);
INSERT INTO reviews SELECT g, g % 20 FROM generate_series(1, 2000) g;
SELECT register_exact('SELECT * FROM reviews') AS all_reviews;
SELECT register_exact('SELECT * FROM reviews WHERE author IS NOT NULL') AS attributed;
INSERT INTO cases VALUES ('SELECT * FROM reviews'), ('SELECT * FROM reviews WHERE author IS NOT NULL');
DELETE FROM authors WHERE id IN (1, 2, 3);
UPDATE authors SET id = id + 100 WHERE id IN (4, 5);
SELECT all_exact() AS cascades;

-- Rules add statements to a query.
CREATE TABLE shelf (id int, author int);
CREATE RULE also_books AS ON INSERT TO shelf DO ALSO INSERT INTO books VALUES (NEW.id, NEW.author, 'rule');
INSERT INTO shelf SELECT g, g % 2 FROM generate_series(60001, 60050) g;
SELECT all_exact() AS rule;

-- Savepoints and exception blocks: what rolls back counts for nothing.
BEGIN;
INSERT INTO books SELECT g, 1, 'kept' FROM generate_series(70001, 70100) g;
SAVEPOINT s;
INSERT INTO books SELECT g, 1, 'gone' FROM generate_series(70101, 70500) g;
DELETE FROM books WHERE author = 1 AND id < 70000;
SELECT all_exact() AS before_rollback_to;
ROLLBACK TO s;
SELECT all_exact() AS after_rollback_to;
COMMIT;
DO $$
BEGIN
  BEGIN
    INSERT INTO books SELECT g, 1, 'caught' FROM generate_series(71001, 71100) g;
    PERFORM 1 / 0;
  EXCEPTION WHEN division_by_zero THEN NULL;
  END;
  INSERT INTO books SELECT g, 1, 'after' FROM generate_series(71101, 71110) g;
END $$;
SELECT all_exact() AS exception_block;

-- Replica sessions (logical replication's apply) fire row triggers and no
-- statement triggers: the row trigger counts them, once. A transaction
-- mixing both kinds of session counts each row once too.
SET session_replication_role = replica;
INSERT INTO books SELECT g, 1, 'replicated' FROM generate_series(80001, 80100) g;
UPDATE books SET author = 1 WHERE id BETWEEN 80001 AND 80050 OR id BETWEEN 21 AND 40;
DELETE FROM books WHERE id BETWEEN 80051 AND 80060;
COPY books FROM STDIN;
80201	1	replicated copy
80202	3	replicated copy
\.
RESET session_replication_role;
SELECT all_exact() AS replica_session;
BEGIN;
INSERT INTO books SELECT g, 1, 'origin' FROM generate_series(81001, 81010) g;
SET LOCAL session_replication_role = replica;
INSERT INTO books SELECT g, 1, 'replica' FROM generate_series(81011, 81020) g;
UPDATE books SET author = 3 WHERE id BETWEEN 81001 AND 81015;
SET LOCAL session_replication_role = local;
DELETE FROM books WHERE id BETWEEN 81005 AND 81012;
SELECT all_exact() AS mixed_in_transaction;
COMMIT;
SELECT all_exact() AS mixed_committed;

-- Our triggers enabled for the wrong sessions would count rows twice (or
-- not at all): ALTER TABLE on them re-derives the count, which sets their
-- firing back; a disabled one makes the count live, with the error.
SELECT format('ALTER TABLE books ENABLE ALWAYS TRIGGER fast_count_exact_insert_%s', 'books'::regclass::oid) AS always \gset
:always;
SELECT settle('books');
SELECT our_triggers('books');
SET session_replication_role = replica;
INSERT INTO books VALUES (90001, 1, 'once');
RESET session_replication_role;
SELECT all_exact() AS firing_restored;
SELECT format('ALTER TABLE books DISABLE TRIGGER fast_count_exact_delete_%s', 'books'::regclass::oid) AS disable \gset
:disable;
DELETE FROM books WHERE id = 90001;
SELECT settle('books');
SELECT all_exact() AS disabled_counts_live;
SELECT format('ALTER TABLE books ENABLE TRIGGER fast_count_exact_delete_%s', 'books'::regclass::oid) AS enable \gset
:enable;
SELECT settle('books');
DELETE FROM books WHERE author = 4;
SELECT all_exact() AS enabled_again;
-- ENABLE TRIGGER USER enables every trigger for origin sessions only.
ALTER TABLE books DISABLE TRIGGER USER;
ALTER TABLE books ENABLE TRIGGER USER;
SELECT settle('books');
SELECT our_triggers('books');
SET session_replication_role = replica;
INSERT INTO books VALUES (90002, 1, 'replicated');
TRUNCATE books;
INSERT INTO books VALUES (90003, 1, 'replicated');
RESET session_replication_role;
SELECT all_exact() AS enabled_for_every_user_trigger;
INSERT INTO books SELECT g, g % 10, 'refill ' || g FROM generate_series(1, 1000) g;

-- A role with the TRIGGER privilege cannot plant a trigger under one of our
-- names before a registration: it is replaced by ours.
CREATE ROLE bulk_intruder;
CREATE TABLE planted (id int, flag boolean);
GRANT TRIGGER ON planted TO bulk_intruder;
GRANT USAGE, CREATE ON SCHEMA public TO bulk_intruder;
SET ROLE bulk_intruder;
CREATE FUNCTION public.nothing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
SELECT format('CREATE TRIGGER fast_count_exact_insert_%1$s AFTER INSERT ON planted FOR EACH STATEMENT EXECUTE FUNCTION public.nothing(); '
              'CREATE TRIGGER fast_count_exact_%1$s AFTER INSERT OR UPDATE OR DELETE ON planted FOR EACH ROW EXECUTE FUNCTION public.nothing()',
              'planted'::regclass::oid) AS plant \gset
:plant;
RESET ROLE;
SELECT register_exact('SELECT * FROM planted WHERE flag') AS planted_flag;
INSERT INTO cases VALUES ('SELECT * FROM planted WHERE flag');
SELECT our_triggers('planted');
INSERT INTO planted SELECT g, g % 2 = 0 FROM generate_series(1, 100) g;
SET session_replication_role = replica;
INSERT INTO planted SELECT g, true FROM generate_series(1001, 1010) g;
DELETE FROM planted WHERE id = 1001;
RESET session_replication_role;
SELECT all_exact() AS not_planted;

-- Registering in a transaction that writes the table before and after:
-- each write counts once, under whichever triggers it ran.
BEGIN;
INSERT INTO planted SELECT g, true FROM generate_series(101, 110) g;
SELECT fast_count_register('SELECT * FROM planted', mode => 'exact') IS NOT NULL AS registered_in_transaction;
INSERT INTO planted SELECT g, true FROM generate_series(111, 130) g;
COMMIT;
SELECT settle('planted');
INSERT INTO cases VALUES ('SELECT * FROM planted');
SELECT all_exact() AS registered_between_writes;

-- Partitions: the statement triggers of the partitioned table see rows
-- written through it (also moved between partitions), those of each
-- partition the rows written straight into it, also below a
-- sub-partitioned partition whose columns are in another order.
CREATE TABLE orders (id int, region text, amount int) PARTITION BY LIST (region);
CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu');
CREATE TABLE orders_am (amount int, id int, region text) PARTITION BY RANGE (amount);
CREATE TABLE orders_am_small PARTITION OF orders_am FOR VALUES FROM (MINVALUE) TO (50);
CREATE TABLE orders_am_big (region text, amount int, id int);
ALTER TABLE orders_am ATTACH PARTITION orders_am_big FOR VALUES FROM (50) TO (MAXVALUE);
ALTER TABLE orders ATTACH PARTITION orders_am FOR VALUES IN ('am');
INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'am' END, g % 100 FROM generate_series(1, 1000) g;
SELECT register_exact('SELECT * FROM orders WHERE amount >= 50') AS big_orders;
SELECT register_exact('SELECT * FROM orders') AS all_orders;
INSERT INTO cases VALUES ('SELECT * FROM orders WHERE amount >= 50'), ('SELECT * FROM orders');
SELECT c.relname, our_triggers(c.oid) FROM pg_class c WHERE c.relname LIKE 'orders%' ORDER BY 1;
INSERT INTO orders SELECT g, 'am', g % 100 FROM generate_series(2001, 2100) g;
INSERT INTO orders_am SELECT g % 100, g, 'am' FROM generate_series(2101, 2200) g;
INSERT INTO orders_am_big SELECT 'am', 70, g FROM generate_series(2201, 2250) g;
INSERT INTO orders_eu SELECT g, 'eu', 99 FROM generate_series(2251, 2300) g;
SELECT all_exact() AS partition_inserts;
UPDATE orders SET region = 'eu', amount = amount + 30 WHERE region = 'am' AND id < 500;
UPDATE orders_am SET amount = 100 - amount WHERE id BETWEEN 2101 AND 2200;
UPDATE orders_am_small SET amount = amount + 1 WHERE id < 1000 AND amount < 49;
DELETE FROM orders_am_big WHERE id % 3 = 0;
DELETE FROM orders WHERE id % 5 = 0;
SELECT all_exact() AS partition_updates_and_deletes;
COPY orders FROM STDIN;
3001	am	80
3002	eu	10
3003	am	5
\.
SET session_replication_role = replica;
INSERT INTO orders SELECT g, 'am', 90 FROM generate_series(3101, 3120) g;
UPDATE orders SET amount = 10 WHERE id BETWEEN 3101 AND 3110;
RESET session_replication_role;
SELECT all_exact() AS partition_copy_and_replica;
-- A new partition gets statement triggers and a clone of the row trigger
-- that fires on replica only.
CREATE TABLE orders_asia PARTITION OF orders FOR VALUES IN ('asia');
SELECT our_triggers('orders_asia');
INSERT INTO orders_asia SELECT g, 'asia', g % 100 FROM generate_series(4001, 4100) g;
INSERT INTO orders SELECT g, 'asia', 75 FROM generate_series(4101, 4110) g;
SELECT all_exact() AS new_partition;

-- A registered plain table attached as a partition: a write through its
-- new parent fires none of its statement triggers, so it is re-derived and
-- gets an ALWAYS row trigger instead.
CREATE TABLE orders_af (id int, region text, amount int);
INSERT INTO orders_af SELECT g, 'af', g % 100 FROM generate_series(5001, 5100) g;
SELECT register_exact('SELECT * FROM orders_af WHERE amount < 10') AS af_small;
INSERT INTO cases VALUES ('SELECT * FROM orders_af WHERE amount < 10');
SELECT our_triggers('orders_af');
ALTER TABLE orders ATTACH PARTITION orders_af FOR VALUES IN ('af');
INSERT INTO orders SELECT g, 'af', 1 FROM generate_series(5101, 5120) g;
SELECT all_exact() AS attached_before_rederive;
SELECT settle('orders');
SELECT our_triggers('orders_af');
INSERT INTO orders SELECT g, 'af', 2 FROM generate_series(5121, 5140) g;
UPDATE orders SET amount = 50 WHERE id BETWEEN 5001 AND 5005;
INSERT INTO orders_af VALUES (5200, 'af', 3);
SELECT all_exact() AS attached;
-- Detached again, it keeps no trigger of the partitioned table's; re-derived
-- (as every table the ALTER touches), it is counted by statements again.
ALTER TABLE orders DETACH PARTITION orders_af;
SELECT settle('orders');
SELECT our_triggers('orders_af');
INSERT INTO orders_af SELECT g, 'af', 4 FROM generate_series(5201, 5210) g;
SELECT all_exact() AS detached;

-- A table registered before 0.4.0 has an ALWAYS row trigger and no
-- statement triggers (made here in a replica session, where our event
-- triggers do not fire). It keeps counting exactly, and the worker (here:
-- settling) switches it to statement triggers while no writer is in flight.
CREATE TABLE legacy (id int, flag boolean);
INSERT INTO legacy SELECT g, g % 2 = 0 FROM generate_series(1, 100) g;
SELECT register_exact('SELECT * FROM legacy WHERE flag') AS legacy_flag;
INSERT INTO cases VALUES ('SELECT * FROM legacy WHERE flag');
SELECT format('ALTER TABLE legacy ENABLE ALWAYS TRIGGER fast_count_exact_%1$s; '
              'DROP TRIGGER fast_count_exact_insert_%1$s ON legacy; '
              'DROP TRIGGER fast_count_exact_update_%1$s ON legacy; '
              'DROP TRIGGER fast_count_exact_delete_%1$s ON legacy', 'legacy'::regclass::oid) AS make_legacy \gset
BEGIN;
SET LOCAL session_replication_role = replica;
:make_legacy;
SET LOCAL session_replication_role = origin;
SELECT our_triggers('legacy');
INSERT INTO legacy SELECT g, true FROM generate_series(101, 150) g;
UPDATE legacy SET flag = NOT flag WHERE id < 20;
SELECT all_exact() AS legacy_counts;
COMMIT;
SELECT settle('legacy');
SELECT our_triggers('legacy');
INSERT INTO legacy SELECT g, g % 3 = 0 FROM generate_series(151, 250) g;
UPDATE legacy SET flag = NOT flag WHERE id BETWEEN 20 AND 60;
DELETE FROM legacy WHERE id % 7 = 0;
SELECT all_exact() AS legacy_switched;
-- The worker does it by itself (every ten passes), when no writer is in
-- the way.
BEGIN;
SET LOCAL session_replication_role = replica;
:make_legacy;
COMMIT;
DO $$
BEGIN
  FOR i IN 1..600 LOOP
    EXIT WHEN EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'legacy'::regclass
                                               AND tgname LIKE 'fast_count_exact_insert_%');
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT our_triggers('legacy');
INSERT INTO legacy SELECT g, true FROM generate_series(251, 300) g;
DELETE FROM legacy WHERE id % 5 = 0;
SELECT all_exact() AS legacy_switched_by_the_worker;

-- Unregistering the last query of a table removes every trigger.
SELECT fast_count_unregister('SELECT * FROM planted') AND fast_count_unregister('SELECT * FROM planted WHERE flag') AS unregistered;
SELECT count(*) AS planted_triggers FROM pg_trigger WHERE tgrelid = 'planted'::regclass;

DROP TABLE books, seen, reviews, authors, shelf, planted, orders, orders_af, legacy, cases CASCADE;
DROP FUNCTION public.nothing(), exact(text), register_exact(text), settle(text), all_exact(),
  our_triggers(regclass), count_new(), echo();
REVOKE ALL ON SCHEMA public FROM bulk_intruder;
DROP ROLE bulk_intruder;
TRUNCATE fast_count.entries;
