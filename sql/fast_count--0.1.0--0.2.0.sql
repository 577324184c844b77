-- fast_count 0.1.0 -> 0.2.0: hot path, exact mode, observability.
--
-- A fresh CREATE EXTENSION runs fast_count--0.1.0.sql and then this script;
-- there is one definition of every object, and an upgraded database ends up
-- exactly like a new one.

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
    ADD COLUMN change_signature bytea;
