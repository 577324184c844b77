-- fast_count: cached, self-refreshing row counts for any SELECT.
--
-- The whole current schema, as a new installation creates it. `make` copies
-- it to sql/fast_count--<default_version>.sql (the script CREATE EXTENSION
-- runs); a database made by an older version reaches the same objects
-- through the upgrade scripts sql/fast_count--A--B.sql, one per release.
-- Changing an object here means adding its change to the next upgrade
-- script too; test/sql/upgrade.sql checks that both ways end equal.

\echo Use "CREATE EXTENSION fast_count" to load this file. \quit

-- Internals live in a schema of their own; the functions users call live in
-- the schema the extension is created in (public by default).
CREATE SCHEMA fast_count;
COMMENT ON SCHEMA fast_count IS 'fast_count internals: the cache and registry table';

-- ---------------------------------------------------------------------------
-- The cache and registry.
-- ---------------------------------------------------------------------------

-- The source of truth: one row per distinct query (by key), holding its last
-- count and, for registered queries, the registration. Written only by the
-- extension's C code (ordinary users have no privilege on it), read through
-- the fast_count_entries view. Columns keep the order in which releases added
-- them (mode onwards came with 0.2.0), so that a new and an upgraded table
-- have the same layout.
CREATE TABLE fast_count.entries (
    key              uuid        PRIMARY KEY,
    query            text        NOT NULL,
    params           text[],
    settings         text[]      NOT NULL,
    owner            oid         NOT NULL,
    relids           oid[]       NOT NULL,
    tables           oid[]       NOT NULL,
    count            bigint,
    counted_at       timestamptz,
    expires_at       timestamptz,
    count_duration   interval,
    registered       boolean     NOT NULL DEFAULT false,
    refresh_every    interval,
    next_refresh_at  timestamptz,
    registered_at    timestamptz,
    last_error       text,
    last_error_at    timestamptz,
    failures         integer     NOT NULL DEFAULT 0,
    mode             text        NOT NULL DEFAULT 'periodic'
        CHECK (mode IN ('periodic', 'exact')),
    exact_state      text
        CHECK (exact_state IN ('backfill', 'ready', 'rederive')),
    exact_predicate  text,
    is_estimate      boolean     NOT NULL DEFAULT false,
    change_signature bytea,
    checked_at       timestamptz,
    group_by         text[]
);
REVOKE ALL ON fast_count.entries FROM PUBLIC;
COMMENT ON TABLE fast_count.entries IS 'fast_count cache and registry; read it through fast_count_entries';

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

-- The entries a caller may see, filtered in C before any row leaves the
-- function (superusers and pg_read_all_stats see all; others those over
-- relations they can SELECT, none dropped or under row-level security),
-- with their activity counters. A filter in the view's WHERE clause would
-- let a cheap function of the caller's query run first and see every row;
-- a key alone (a hash of the query tree) is an oracle too, so the counters
-- are not listed on their own.
CREATE FUNCTION fast_count._entries(
    OUT key uuid, OUT query text, OUT params text[], OUT registered boolean,
    OUT count bigint, OUT counted_at timestamptz, OUT expires_at timestamptz,
    OUT refresh_every interval, OUT next_refresh_at timestamptz,
    OUT count_duration interval, OUT last_error text, OUT last_error_at timestamptz,
    OUT failures integer, OUT owner oid, OUT relids oid[], OUT settings text[],
    OUT mode text, OUT exact_state text, OUT is_estimate boolean,
    OUT checked_at timestamptz, OUT hits bigint, OUT misses bigint, OUT refreshes bigint,
    OUT group_by text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fast_count_entries_list'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fast_count._entries() IS
    'the entries of fast_count.entries the caller may see, with their activity counters';

-- A security barrier as well, so that nothing the caller adds to it is ever
-- pushed below the function.
CREATE VIEW fast_count_entries WITH (security_barrier) AS
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
       e.group_by,
       e.is_estimate,
       coalesce(e.checked_at, e.counted_at) AS checked_at,
       (e.registered AND e.mode = 'periodic' AND e.next_refresh_at < now()) AS served_stale,
       e.hits,
       e.misses,
       e.refreshes
  FROM fast_count._entries() e;
GRANT SELECT ON fast_count_entries TO PUBLIC;
COMMENT ON VIEW fast_count_entries IS 'fast_count: each cached count, how fresh it is, and each registered query';

-- ---------------------------------------------------------------------------
-- What users call.
-- ---------------------------------------------------------------------------

CREATE FUNCTION fast_count(query text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fast_count_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count(text) IS
    'number of rows the SELECT returns, from the cache when a fresh count is there';

CREATE FUNCTION fast_count(query text, params text[])
RETURNS bigint
AS 'MODULE_PATHNAME', 'fast_count_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count(text, text[]) IS
    'number of rows the SELECT returns, with params as the values of $1..$n';

-- The planner's estimate, instantly, without counting (or caching).
CREATE FUNCTION fast_count_estimate(query text, params text[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fast_count_estimate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_estimate(text, text[]) IS
    'the planner''s estimate of the rows the SELECT returns, without running it';

CREATE FUNCTION fast_count_register(query text,
                                    refresh_every interval DEFAULT NULL,
                                    params text[] DEFAULT NULL,
                                    mode text DEFAULT 'periodic',
                                    group_by text[] DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'fast_count_register'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_register(text, interval, text[], text, text[]) IS
    'registers the query: mode periodic (default) has the worker re-count it every refresh_every; mode exact keeps its count exact with triggers (single-table queries), one count per group of the group_by columns when given; returns its key';

CREATE FUNCTION fast_count_unregister(query text, params text[] DEFAULT NULL,
                                      group_by text[] DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'fast_count_unregister'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_unregister(text, text[], text[]) IS
    'stops refreshing a registered query (its grouped registration with group_by) and forgets its count';

-- Every group of a grouped exact registration with a non-zero count, exact
-- under the caller's snapshot, without scanning the table.
CREATE FUNCTION fast_count_groups(query text, params text[] DEFAULT NULL,
                                  group_by text[] DEFAULT NULL)
RETURNS TABLE(key text[], count bigint)
AS 'MODULE_PATHNAME', 'fast_count_groups'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;
COMMENT ON FUNCTION fast_count_groups(text, text[], text[]) IS
    'the exact count of every non-empty group of a query registered with mode => ''exact'', group_by => ...';

CREATE FUNCTION fast_count_refresh(query text, params text[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fast_count_refresh'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_refresh(text, text[]) IS
    'counts the query now, stores the count and returns it';

-- Activity counters, kept in shared memory (with shared_preload_libraries)
-- since the server started or fast_count_stats_reset() was called.
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

-- Counts over a dropped relation must never be served again.
CREATE FUNCTION fast_count._on_sql_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'fast_count_on_sql_drop'
LANGUAGE C;
CREATE EVENT TRIGGER fast_count_on_sql_drop ON sql_drop
    EXECUTE FUNCTION fast_count._on_sql_drop();

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
--
-- A grouped registration (group_by) keeps one count per group: its rows
-- have key = the group's own key (derived from the registration's key and
-- the group's values), parent = the registration's key and grp = the
-- group's values as bytes (datum images, which equality of the columns'
-- types compares); the registration's own key holds only its epoch rows.
CREATE TABLE fast_count.exact_deltas (
    key    uuid   NOT NULL,
    delta  bigint NOT NULL,
    epoch  bigint,
    parent uuid,
    grp    bytea
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000);
CREATE INDEX exact_deltas_key_idx ON fast_count.exact_deltas (key);
-- Readers look up the latest base of a key here; writers' rows (epoch NULL)
-- never touch this index.
CREATE INDEX exact_deltas_base_idx ON fast_count.exact_deltas (key) WHERE epoch IS NOT NULL;
-- Every group of a grouped registration, for fast_count_groups() and folds.
CREATE INDEX exact_deltas_parent_idx ON fast_count.exact_deltas (parent) WHERE parent IS NOT NULL;
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

-- ---------------------------------------------------------------------------
-- Last: tell the background worker that this database now has fast_count.
-- ---------------------------------------------------------------------------
CREATE FUNCTION fast_count._on_install()
RETURNS void
AS 'MODULE_PATHNAME', 'fast_count_on_install'
LANGUAGE C;
REVOKE ALL ON FUNCTION fast_count._on_install() FROM PUBLIC;
SELECT fast_count._on_install();
