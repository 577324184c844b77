-- fast_count 0.3.0 -> 0.4.0: grouped exact counts.
--
-- fast_count_register(..., group_by) keeps one exact count per group of a
-- query's table; fast_count_groups() lists them. Delta rows name their
-- group; entries record a registration's group columns. Existing exact
-- registrations keep their rows and counts (parent and grp are NULL for
-- them). test/sql/upgrade.sql checks that the result equals a new 0.4.0
-- installation.

\echo Use "ALTER EXTENSION fast_count UPDATE TO '0.4.0'" to load this file. \quit

ALTER TABLE fast_count.entries ADD COLUMN group_by text[];

ALTER TABLE fast_count.exact_deltas ADD COLUMN parent uuid, ADD COLUMN grp bytea;
CREATE INDEX exact_deltas_parent_idx ON fast_count.exact_deltas (parent) WHERE parent IS NOT NULL;

DROP FUNCTION fast_count_register(text, interval, text[], text);
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

DROP FUNCTION fast_count_unregister(text, text[]);
CREATE FUNCTION fast_count_unregister(query text, params text[] DEFAULT NULL,
                                      group_by text[] DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'fast_count_unregister'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_unregister(text, text[], text[]) IS
    'stops refreshing a registered query (its grouped registration with group_by) and forgets its count';

CREATE FUNCTION fast_count_groups(query text, params text[] DEFAULT NULL,
                                  group_by text[] DEFAULT NULL)
RETURNS TABLE(key text[], count bigint)
AS 'MODULE_PATHNAME', 'fast_count_groups'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;
COMMENT ON FUNCTION fast_count_groups(text, text[], text[]) IS
    'the exact count of every non-empty group of a query registered with mode => ''exact'', group_by => ...';

-- The entries view shows a grouped registration's columns (group_by, after
-- exact_state); _entries() returns them last, so that a library serving a
-- database not yet updated still fills the old columns.
DROP VIEW fast_count_entries;
DROP FUNCTION fast_count._entries();
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
