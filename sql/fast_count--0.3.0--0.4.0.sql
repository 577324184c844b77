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
