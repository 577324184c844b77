-- fast_count 0.1.0 -> 0.2.0: hot path, exact mode, observability.
--
-- Run by ALTER EXTENSION fast_count UPDATE on a 0.1.0 database; new
-- installations run sql/fast_count.sql instead, and test/sql/upgrade.sql
-- checks that both end with the same objects.

\echo Use "ALTER EXTENSION fast_count UPDATE TO '0.2.0'" to load this file. \quit

-- New columns of fast_count.entries, always appended (the C code reads them
-- by position and still works with the 0.1.0 layout).
ALTER TABLE fast_count.entries
    ADD COLUMN mode             text    NOT NULL DEFAULT 'periodic'
        CHECK (mode IN ('periodic', 'exact')),
    ADD COLUMN exact_state      text
        CHECK (exact_state IN ('backfill', 'ready', 'rederive')),
    ADD COLUMN exact_predicate  text,
    ADD COLUMN is_estimate      boolean NOT NULL DEFAULT false,
    ADD COLUMN change_signature bytea,
    ADD COLUMN checked_at       timestamptz;

-- The planner's estimate, instantly, without counting (or caching).
CREATE FUNCTION fast_count_estimate(query text, params text[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fast_count_estimate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_estimate(text, text[]) IS
    'the planner''s estimate of the rows the SELECT returns, without running it';

-- fast_count writes this table at the heap level, which fires no trigger; a
-- change made by hand (an administrator's UPDATE or TRUNCATE) does, and makes
-- the shared-memory index of this database start over from the table.
CREATE FUNCTION fast_count._entries_edited()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fast_count_entries_edited'
LANGUAGE C;
CREATE TRIGGER entries_edited
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON fast_count.entries
    FOR EACH STATEMENT EXECUTE FUNCTION fast_count._entries_edited();

-- Activity counters, kept in shared memory (with shared_preload_libraries)
-- since the server started or fast_count_stats_reset() was called.
CREATE FUNCTION fast_count._counters(OUT key uuid, OUT hits bigint, OUT misses bigint,
                                     OUT refreshes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fast_count_counters'
LANGUAGE C VOLATILE;

CREATE FUNCTION fast_count_stats(OUT hits bigint, OUT misses bigint, OUT counts bigint,
                                 OUT live_counts bigint, OUT count_ms numeric,
                                 OUT saved_ms numeric, OUT entries bigint,
                                 OUT capacity bigint, OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'fast_count_stats'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION fast_count_stats() IS
    'server-wide totals: cache hits, misses, counts run (cached and live), time spent counting, time saved by hits, entries in the shared index';

CREATE FUNCTION fast_count_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'fast_count_stats_reset'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION fast_count_stats_reset() FROM PUBLIC;
COMMENT ON FUNCTION fast_count_stats_reset() IS 'sets the activity counters back to zero';

-- ---------------------------------------------------------------------------
-- Exact mode (docs/exact-mode.md): counts kept exact by row triggers.
-- ---------------------------------------------------------------------------

-- Delta rows: every transaction that changes how many rows of an exact query
-- a table holds adds ONE row per query here, in the same transaction (at
-- commit), so writers never share a row. A count is the sum of the rows a
-- snapshot sees. Base rows (epoch set) hold a count taken under one snapshot
-- minus the deltas that snapshot saw; epoch is the transaction id that
-- (re)based the count, and tells readers whether a TRUNCATE, ALTER TABLE or
-- re-count happened that their snapshot does not see. The worker folds a
-- query's rows into one. Written only by the extension's C code.
CREATE TABLE fast_count.exact_deltas (
    key   uuid   NOT NULL,
    delta bigint NOT NULL,
    epoch bigint
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000);
CREATE INDEX exact_deltas_key_idx ON fast_count.exact_deltas (key);
-- Readers look up the latest base of a key here; writers' rows (epoch NULL)
-- never touch this index.
CREATE INDEX exact_deltas_base_idx ON fast_count.exact_deltas (key) WHERE epoch IS NOT NULL;
REVOKE ALL ON fast_count.exact_deltas FROM PUBLIC;
COMMENT ON TABLE fast_count.exact_deltas IS 'fast_count exact mode: per-transaction count deltas and base counts';

-- The write path: C triggers, created by fast_count_register(..., mode => 'exact').
CREATE FUNCTION fast_count._exact_row_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fast_count_exact_row_trigger'
LANGUAGE C;
CREATE FUNCTION fast_count._exact_truncate_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fast_count_exact_truncate_trigger'
LANGUAGE C;

-- DDL that can change which rows a table holds without firing row triggers
-- (ALTER TABLE: ATTACH/DETACH, column type changes, disabled triggers, ...)
-- makes exact counts live until the worker has counted again; new
-- partitions get their TRUNCATE trigger.
CREATE FUNCTION fast_count._exact_on_ddl_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'fast_count_exact_on_ddl_start'
LANGUAGE C;
CREATE FUNCTION fast_count._exact_on_ddl_end()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'fast_count_exact_on_ddl_end'
LANGUAGE C;
CREATE EVENT TRIGGER fast_count_exact_ddl_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'ALTER TRIGGER', 'DROP TRIGGER')
    EXECUTE FUNCTION fast_count._exact_on_ddl_start();
CREATE EVENT TRIGGER fast_count_exact_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE')
    EXECUTE FUNCTION fast_count._exact_on_ddl_end();

-- Maintenance the worker does by itself, callable by superusers (tests,
-- operators): fold a key's delta rows into one, count a key in state
-- 'backfill' or 'rederive' now.
CREATE FUNCTION fast_count._exact_fold(key uuid)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fast_count_exact_fold'
LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION fast_count._exact_fold(uuid) FROM PUBLIC;
CREATE FUNCTION fast_count._exact_settle(key uuid)
RETURNS text
AS 'MODULE_PATHNAME', 'fast_count_exact_settle'
LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION fast_count._exact_settle(uuid) FROM PUBLIC;

-- Registration takes the mode.
DROP FUNCTION fast_count_register(text, interval, text[]);
CREATE FUNCTION fast_count_register(query text,
                                    refresh_every interval DEFAULT NULL,
                                    params text[] DEFAULT NULL,
                                    mode text DEFAULT 'periodic')
RETURNS uuid
AS 'MODULE_PATHNAME', 'fast_count_register'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_register(text, interval, text[], text) IS
    'registers the query: mode periodic (default) has the worker re-count it every refresh_every; mode exact keeps its count exact with triggers (single-table queries); returns its key';

-- The entries view: the new columns, appended.
CREATE OR REPLACE VIEW fast_count_entries AS
SELECT e.key,
       e.query,
       e.params,
       CASE WHEN e.registered THEN 'registered' ELSE 'retroactive' END AS kind,
       e.count,
       e.counted_at,
       e.expires_at,
       e.refresh_every,
       e.next_refresh_at,
       e.count_duration AS last_count_duration,
       e.last_error,
       e.last_error_at,
       e.failures,
       e.owner::regrole AS owner,
       e.relids::regclass[] AS relations,
       e.settings,
       e.mode,
       e.exact_state,
       e.is_estimate,
       coalesce(e.checked_at, e.counted_at) AS checked_at,
       (e.registered AND e.mode = 'periodic' AND e.next_refresh_at < now()) AS served_stale,
       c.hits,
       c.misses,
       c.refreshes
  FROM fast_count.entries e
  LEFT JOIN fast_count._counters() c ON c.key = e.key
 WHERE fast_count._visible(e.relids);
