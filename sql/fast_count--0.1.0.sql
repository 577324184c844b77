-- fast_count 0.1.0: cached, self-refreshing row counts for any SELECT.
--
-- The install script of the first release, kept so that a 0.1.0 database can
-- be made (CREATE EXTENSION fast_count VERSION '0.1.0') and upgraded; new
-- installations run sql/fast_count.sql.

\echo Use "CREATE EXTENSION fast_count" to load this file. \quit

-- Internals live in a schema of their own; the functions users call live in
-- the schema the extension is created in (public by default).
CREATE SCHEMA fast_count;
COMMENT ON SCHEMA fast_count IS 'fast_count internals: the cache and registry table';

-- The source of truth: one row per distinct query (by key), holding its last
-- count and, for registered queries, the registration. Written only by the
-- extension's C code (ordinary users have no privilege on it), read through
-- the fast_count_entries view.
CREATE TABLE fast_count.entries (
    key             uuid        PRIMARY KEY,
    query           text        NOT NULL,
    params          text[],
    settings        text[]      NOT NULL,
    owner           oid         NOT NULL,
    relids          oid[]       NOT NULL,
    tables          oid[]       NOT NULL,
    count           bigint,
    counted_at      timestamptz,
    expires_at      timestamptz,
    count_duration  interval,
    registered      boolean     NOT NULL DEFAULT false,
    refresh_every   interval,
    next_refresh_at timestamptz,
    registered_at   timestamptz,
    last_error      text,
    last_error_at   timestamptz,
    failures        integer     NOT NULL DEFAULT 0
);
REVOKE ALL ON fast_count.entries FROM PUBLIC;
COMMENT ON TABLE fast_count.entries IS 'fast_count cache and registry; read it through fast_count_entries';

-- Which entries a role may see: those over relations it can read (the query
-- text and count would otherwise leak), or all for pg_read_all_stats.
CREATE FUNCTION fast_count._visible(relids oid[])
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_has_role('pg_read_all_stats', 'MEMBER')
        OR NOT EXISTS (
            SELECT 1 FROM unnest(relids) AS r(relid)
            WHERE coalesce(has_table_privilege(r.relid, 'SELECT'), false) IS NOT TRUE
        )
$$;

CREATE VIEW fast_count_entries AS
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
       e.settings
  FROM fast_count.entries e
 WHERE fast_count._visible(e.relids);
GRANT SELECT ON fast_count_entries TO PUBLIC;
COMMENT ON VIEW fast_count_entries IS 'fast_count: each cached count, how fresh it is, and each registered query';

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

CREATE FUNCTION fast_count_register(query text,
                                    refresh_every interval DEFAULT NULL,
                                    params text[] DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'fast_count_register'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_register(text, interval, text[]) IS
    'has the background worker re-count the query every refresh_every (default fast_count.refresh_every); returns its key';

CREATE FUNCTION fast_count_unregister(query text, params text[] DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'fast_count_unregister'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_unregister(text, text[]) IS
    'stops refreshing a registered query and forgets its count';

CREATE FUNCTION fast_count_refresh(query text, params text[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fast_count_refresh'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fast_count_refresh(text, text[]) IS
    'counts the query now, stores the count and returns it';

-- Counts over a dropped relation must never be served again.
CREATE FUNCTION fast_count._on_sql_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'fast_count_on_sql_drop'
LANGUAGE C;
CREATE EVENT TRIGGER fast_count_on_sql_drop ON sql_drop
    EXECUTE FUNCTION fast_count._on_sql_drop();

CREATE FUNCTION fast_count._on_install()
RETURNS void
AS 'MODULE_PATHNAME', 'fast_count_on_install'
LANGUAGE C;
REVOKE ALL ON FUNCTION fast_count._on_install() FROM PUBLIC;
SELECT fast_count._on_install();
