-- A database at 0.1.0 is updated in place to 0.2.0 and then to 0.2.1: its
-- cached counts and registrations are kept at each step, and it ends up with
-- exactly the objects of a new installation. DROP EXTENSION then leaves
-- nothing behind.

-- What the extension consists of, as one fingerprint.
CREATE FUNCTION public.extension_fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(item, E'\n' ORDER BY item)) FROM (
    SELECT pg_describe_object(classid, objid, objsubid) AS item
      FROM pg_depend
     WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
       AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fast_count')
    UNION ALL
    SELECT format('column %s %s %s %s', attnum, attname, format_type(atttypid, atttypmod), attnotnull)
      FROM pg_attribute
     WHERE attrelid = 'fast_count.entries'::regclass AND attnum > 0 AND NOT attisdropped
    UNION ALL
    SELECT pg_get_viewdef('fast_count_entries'::regclass)
    UNION ALL
    SELECT format('view options %s', reloptions) FROM pg_class WHERE oid = 'fast_count_entries'::regclass
    UNION ALL
    SELECT pg_get_functiondef(p.oid) FROM pg_proc p
     WHERE p.proname LIKE 'fast\_count%' OR p.pronamespace = 'fast_count'::regnamespace
  ) items
$$;
SELECT public.extension_fingerprint() AS fresh_install,
       pg_get_functiondef('public.extension_fingerprint'::regproc) AS fingerprint_function \gset

CREATE DATABASE regress_fc_upgrade;
\c regress_fc_upgrade
CREATE EXTENSION fast_count VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';

-- The library works with the 0.1.0 objects.
SET fast_count.cache_larger_than = 0;
CREATE TABLE items AS SELECT generate_series(1, 500) AS id;
SELECT fast_count('SELECT * FROM items') AS cached;
SELECT fast_count_register('SELECT * FROM items WHERE id > 100', '1 hour') IS NOT NULL AS registered;
SELECT fast_count_refresh('SELECT * FROM items WHERE id > 100') AS refreshed;
INSERT INTO items SELECT generate_series(501, 600);
SELECT query, kind, count, refresh_every FROM fast_count_entries ORDER BY query;

ALTER EXTENSION fast_count UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';

-- Entries are kept, with the new columns filled in...
SELECT query, kind, count, refresh_every, mode, is_estimate, checked_at = counted_at AS checked
  FROM fast_count_entries ORDER BY query;
-- ...and served.
SELECT fast_count('SELECT * FROM items') AS still_cached,
       fast_count('SELECT * FROM items WHERE id > 100') AS still_registered;
SELECT fast_count_estimate('SELECT * FROM items') > 0 AS new_function_works;

-- 0.2.0 -> 0.2.1: the entries view becomes a security barrier over a
-- function that filters in C; the same entries and registrations.
ALTER EXTENSION fast_count UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'fast_count';
SELECT query, kind, count, refresh_every, mode, is_estimate, checked_at = counted_at AS checked
  FROM fast_count_entries ORDER BY query;
SELECT fast_count('SELECT * FROM items') AS still_cached,
       fast_count('SELECT * FROM items WHERE id > 100') AS still_registered;
SELECT reloptions FROM pg_class WHERE oid = 'fast_count_entries'::regclass;

-- Same objects as a new installation of 0.2.1 (the same fingerprint function,
-- carried over from the first database).
:fingerprint_function ;
SELECT public.extension_fingerprint() = :'fresh_install' AS same_as_fresh_install;

-- DROP EXTENSION leaves nothing behind: no schema, table, function, view,
-- event trigger or worker.
DROP EXTENSION fast_count;
SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'fast_count') AS schemas,
       (SELECT count(*) FROM pg_proc WHERE proname LIKE 'fast\_count%') AS functions,
       (SELECT count(*) FROM pg_class WHERE relname LIKE 'fast\_count%') AS relations,
       (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'fast\_count%') AS event_triggers,
       (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'fast\_count%') AS triggers;
SELECT fast_count('SELECT 1');
\c contrib_regression
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
                          WHERE backend_type = 'fast_count worker' AND datname = 'regress_fc_upgrade');
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT count(*) AS workers_left FROM pg_stat_activity
 WHERE backend_type = 'fast_count worker' AND datname = 'regress_fc_upgrade';
DROP DATABASE regress_fc_upgrade;
DROP FUNCTION public.extension_fingerprint();
