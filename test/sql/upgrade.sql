-- A database made by 0.1.0 is updated in place, one release at a time, to
-- 0.2.0, 0.2.1, 0.3.0 and 0.4.0. Its cached counts and registrations
-- (retroactive, registered periodic, exact, grouped exact) are kept and
-- served at each step, and it ends with exactly the catalog of a new 0.4.0
-- installation made in another
-- database. DROP EXTENSION then leaves nothing behind.
SET client_min_messages = warning;

-- The extension's catalog, one line per fact: its members; each function's
-- arguments, result, language, volatility, strictness, parallel safety,
-- security, settings (search_path), C symbol or body, ACL and comment; each
-- relation's kind, options (security_barrier, autovacuum), ACL, comment,
-- columns (position, type, NOT NULL, default, comment), view definition,
-- constraints, indexes and triggers; the event triggers; the schema's ACL
-- and comment; what pg_dump would dump of it.
CREATE FUNCTION public.fc_catalog() RETURNS SETOF text LANGUAGE sql AS $$
  WITH ext AS (SELECT * FROM pg_extension WHERE extname = 'fast_count'),
  members AS (
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
  rels AS (
    SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
  SELECT format('extension version %s schema %s relocatable %s config %s %s',
                extversion, extnamespace::regnamespace, extrelocatable,
                extconfig::regclass[], extcondition) FROM ext
  UNION ALL
  SELECT 'member ' || pg_describe_object(classid, objid, objsubid) FROM members
  UNION ALL
  SELECT format('function %s.%s(%s) returns %s language %s volatility %s strict %s parallel %s '
                'security_definer %s leakproof %s config %s symbol %s %s acl %s comment %s',
                p.pronamespace::regnamespace, p.proname, pg_get_function_arguments(p.oid),
                pg_get_function_result(p.oid), l.lanname, p.provolatile, p.proisstrict,
                p.proparallel, p.prosecdef, p.proleakproof, p.proconfig, p.probin, p.prosrc,
                p.proacl, obj_description(p.oid, 'pg_proc'))
    FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
    JOIN pg_language l ON l.oid = p.prolang
  UNION ALL
  SELECT format('relation %s kind %s persistence %s options %s acl %s comment %s',
                c.oid::regclass, c.relkind, c.relpersistence, c.reloptions, c.relacl,
                obj_description(c.oid, 'pg_class'))
    FROM rels c
  UNION ALL
  SELECT format('column %s %s %s %s not_null %s default %s acl %s comment %s',
                a.attrelid::regclass, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attacl,
                col_description(a.attrelid, a.attnum))
    FROM pg_attribute a JOIN rels c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid)) FROM rels c WHERE c.relkind = 'v'
  UNION ALL
  SELECT format('constraint %s %s %s', co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid))
    FROM pg_constraint co JOIN rels c ON c.oid = co.conrelid
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid)) FROM pg_index i JOIN rels c ON c.oid = i.indrelid
  UNION ALL
  SELECT format('trigger %s enabled %s', pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT format('event trigger %s on %s tags %s function %s enabled %s',
                e.evtname, e.evtevent, e.evttags, e.evtfoid::regprocedure, e.evtenabled)
    FROM pg_event_trigger e JOIN members m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
  UNION ALL
  SELECT format('schema %s acl %s comment %s', n.nspname, n.nspacl, obj_description(n.oid, 'pg_namespace'))
    FROM pg_namespace n JOIN members m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
$$;
SELECT pg_get_functiondef('public.fc_catalog'::regproc) AS catalog_function \gset

-- A new 0.4.0 installation, in a database of its own.
CREATE DATABASE regress_fc_fresh;
\c regress_fc_fresh
SET client_min_messages = warning;
CREATE EXTENSION fast_count;
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';
:catalog_function ;
SELECT string_agg(item, chr(30) ORDER BY item) AS fresh_catalog FROM public.fc_catalog() item \gset
SELECT count(*) > 100 AS catalog_has_many_facts FROM public.fc_catalog();
DROP EXTENSION fast_count;

-- A 0.1.0 installation, with a retroactive and a registered periodic count.
CREATE DATABASE regress_fc_upgrade;
\c regress_fc_upgrade
SET client_min_messages = warning;
CREATE EXTENSION fast_count VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';
SET fast_count.cache_larger_than = 0;
CREATE TABLE items AS SELECT generate_series(1, 500) AS id;
SELECT fast_count('SELECT * FROM items') AS cached;
SELECT fast_count_register('SELECT * FROM items WHERE id > 100', '1 hour') IS NOT NULL AS registered;
SELECT fast_count_refresh('SELECT * FROM items WHERE id > 100') AS refreshed;
-- From now on a count served is a count kept: the table has 600 rows.
INSERT INTO items SELECT generate_series(501, 600);
SELECT query, kind, count, refresh_every FROM fast_count_entries ORDER BY query;
SELECT fast_count('SELECT * FROM items') AS served_cached,
       fast_count('SELECT * FROM items WHERE id > 100') AS served_registered;

-- 0.1.0 -> 0.2.0: the entries are kept, with the new columns filled in, and
-- served; exact mode arrives: register an exact count.
ALTER EXTENSION fast_count UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';
SELECT query, kind, count, refresh_every, mode, is_estimate, checked_at = counted_at AS checked
  FROM fast_count_entries ORDER BY query;
SELECT fast_count('SELECT * FROM items') AS served_cached,
       fast_count('SELECT * FROM items WHERE id > 100') AS served_registered;
CREATE TABLE inbox (id int, unread boolean);
INSERT INTO inbox SELECT g, g % 3 = 0 FROM generate_series(1, 300) g;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM inbox WHERE unread', mode => 'exact'))
    AS exact_state;
INSERT INTO inbox VALUES (301, true);
SELECT fast_count('SELECT * FROM inbox WHERE unread') AS exact,
       (SELECT count(*) FROM inbox WHERE unread) AS real;

-- 0.2.0 -> 0.2.1: the entries view becomes a security barrier over a
-- function that filters in C; the same entries and registrations.
ALTER EXTENSION fast_count UPDATE TO '0.2.1';
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';
SELECT query, kind, count, refresh_every, mode, exact_state FROM fast_count_entries ORDER BY query;
SELECT fast_count('SELECT * FROM items') AS served_cached,
       fast_count('SELECT * FROM items WHERE id > 100') AS served_registered;
INSERT INTO inbox VALUES (302, true);
SELECT fast_count('SELECT * FROM inbox WHERE unread') AS exact,
       (SELECT count(*) FROM inbox WHERE unread) AS real;

-- 0.2.1 -> 0.3.0.
ALTER EXTENSION fast_count UPDATE TO '0.3.0';
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';
SELECT query, kind, count, refresh_every, mode, exact_state FROM fast_count_entries ORDER BY query;
SELECT fast_count('SELECT * FROM items') AS served_cached,
       fast_count('SELECT * FROM items WHERE id > 100') AS served_registered;
DELETE FROM inbox WHERE id > 299;
SELECT fast_count('SELECT * FROM inbox WHERE unread') AS exact,
       (SELECT count(*) FROM inbox WHERE unread) AS real;
SELECT query, hits > 0 AS hit FROM fast_count_entries ORDER BY query;

-- 0.3.0 -> 0.4.0, the default version: grouped exact counts arrive; the
-- exact count of 0.2.0 is still served, and a grouped one is registered.
ALTER EXTENSION fast_count UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';
INSERT INTO inbox VALUES (303, true);
SELECT fast_count('SELECT * FROM inbox WHERE unread') AS exact,
       (SELECT count(*) FROM inbox WHERE unread) AS real;
SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM inbox', mode => 'exact',
                                                    group_by => ARRAY['unread'])) AS grouped_state;
DELETE FROM inbox WHERE id = 303;
SELECT fast_count('SELECT * FROM inbox WHERE unread') AS exact,
       fast_count('SELECT * FROM inbox WHERE unread IS NULL') AS grouped_null,
       fast_count('SELECT * FROM inbox WHERE unread = false') AS grouped_read,
       (SELECT count(*) FROM inbox WHERE NOT unread) AS real_read;
SELECT * FROM fast_count_groups('SELECT * FROM inbox') ORDER BY key;

-- The same catalog as the new installation: every fact of one is a fact of
-- the other (the lines listed are the differences).
:catalog_function ;
SELECT 'only after upgrade' AS side, item FROM public.fc_catalog() item
EXCEPT SELECT 'only after upgrade', unnest(string_to_array(:'fresh_catalog', chr(30)))
UNION ALL
(SELECT 'only in new install', unnest(string_to_array(:'fresh_catalog', chr(30)))
 EXCEPT SELECT 'only in new install', item FROM public.fc_catalog() item)
ORDER BY 1, 2;
SELECT string_agg(item, chr(30) ORDER BY item) = :'fresh_catalog' AS same_as_new_install
  FROM public.fc_catalog() item;

-- DROP EXTENSION leaves nothing behind: no schema, table, function, view,
-- event trigger, trigger or worker.
DROP EXTENSION fast_count;
SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'fast_count') AS schemas,
       (SELECT count(*) FROM pg_proc WHERE proname LIKE 'fast\_count%' OR proname LIKE '\_exact%') AS functions,
       (SELECT count(*) FROM pg_class WHERE relname LIKE 'fast\_count%' OR relname LIKE 'exact\_deltas%') AS relations,
       (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'fast\_count%') AS event_triggers,
       (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'fast\_count%') AS triggers;
SELECT fast_count('SELECT 1');
\c contrib_regression
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
                          WHERE backend_type = 'fast_count worker'
                            AND datname IN ('regress_fc_upgrade', 'regress_fc_fresh'));
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT count(*) AS workers_left FROM pg_stat_activity
 WHERE backend_type = 'fast_count worker' AND datname IN ('regress_fc_upgrade', 'regress_fc_fresh');
DROP DATABASE regress_fc_upgrade;
DROP DATABASE regress_fc_fresh;
DROP FUNCTION public.fc_catalog();
