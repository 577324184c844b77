-- fast_count 0.2.1 -> 0.3.0: the same objects.
--
-- 0.3.0 reorganises the C++ code, the tests and the way versions are kept
-- (sql/fast_count.sql is the whole schema, built into fast_count--0.3.0.sql);
-- it adds, changes and drops no SQL object, so a 0.2.1 database only takes
-- the new version number. test/sql/upgrade.sql checks that the result
-- equals a new 0.3.0 installation.

\echo Use "ALTER EXTENSION fast_count UPDATE TO '0.3.0'" to load this file. \quit
