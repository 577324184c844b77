-- pg_regress made this database with the extension (--load-extension); it
-- also installs again from scratch, from any client, and reads well in \dx
-- and \df.
DROP EXTENSION fast_count;
CREATE EXTENSION fast_count;
\dx fast_count
\df fast_count*
\dv fast_count_entries
-- Internals live in their own schema.
SELECT c.relname, c.relkind FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'fast_count' ORDER BY 1;

-- Every setting is visible to SHOW, with its default.
SHOW fast_count.enabled;
SHOW fast_count.cache_larger_than;
SHOW fast_count.cache_slower_than;
SHOW fast_count.expire_after;
SHOW fast_count.refresh_every;
SHOW fast_count.max_stale;
SHOW fast_count.naptime;
SHOW fast_count.log_level;
SHOW fast_count.databases;
SELECT name, setting, unit, context FROM pg_settings WHERE name LIKE 'fast\_count.%' ORDER BY name;

-- The prefix is reserved: a misspelt setting is an error, not a silent placeholder.
SET fast_count.expire_aftr = '1s';
