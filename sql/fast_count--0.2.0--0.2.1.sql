-- fast_count 0.2.0 -> 0.2.1: security release (issue 9).
--
-- Run by ALTER EXTENSION fast_count UPDATE on a 0.2.0 database; new
-- installations run sql/fast_count.sql instead, and test/sql/upgrade.sql
-- checks that both end with the same objects.

\echo Use "ALTER EXTENSION fast_count UPDATE TO '0.2.1'" to load this file. \quit

-- The entries a caller may see, filtered in C before any row leaves the
-- function (superusers and pg_read_all_stats see all; others those over
-- relations they can SELECT, none dropped or under row-level security),
-- with their activity counters. The 0.2.0 view filtered in its WHERE clause,
-- where a cheap function of the caller's query could run first and see
-- every row; a key alone (a hash of the query tree) is an oracle too, so
-- the counters are no longer listed on their own.
CREATE FUNCTION fast_count._entries(
    OUT key uuid, OUT query text, OUT params text[], OUT registered boolean,
    OUT count bigint, OUT counted_at timestamptz, OUT expires_at timestamptz,
    OUT refresh_every interval, OUT next_refresh_at timestamptz,
    OUT count_duration interval, OUT last_error text, OUT last_error_at timestamptz,
    OUT failures integer, OUT owner oid, OUT relids oid[], OUT settings text[],
    OUT mode text, OUT exact_state text, OUT is_estimate boolean,
    OUT checked_at timestamptz, OUT hits bigint, OUT misses bigint, OUT refreshes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fast_count_entries_list'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fast_count._entries() IS
    'the entries of fast_count.entries the caller may see, with their activity counters';

-- Same columns as before; a security barrier as well, so that nothing the
-- caller adds to it is ever pushed below the function.
CREATE OR REPLACE VIEW fast_count_entries WITH (security_barrier) AS
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
       e.hits,
       e.misses,
       e.refreshes
  FROM fast_count._entries() e;

DROP FUNCTION fast_count._counters();
DROP FUNCTION fast_count._visible(oid[]);
