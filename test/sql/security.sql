-- A count is only returned to a role that could have run the query, on
-- hits too; rows under row-level security are never shared across roles;
-- ordinary roles cannot write the cache.
SET fast_count.cache_larger_than = 0;
TRUNCATE fast_count.entries;
CREATE ROLE regress_fc_sec_alice;
CREATE ROLE regress_fc_sec_bob;
CREATE TABLE secrets (id int, owner_name text, body text);
INSERT INTO secrets SELECT g, CASE WHEN g <= 3 THEN 'regress_fc_sec_alice' ELSE 'regress_fc_sec_bob' END, 'x'
  FROM generate_series(1, 8) g;
CREATE TABLE ledger (id int, amount int);
INSERT INTO ledger SELECT g, g FROM generate_series(1, 40) g;
GRANT SELECT ON ledger TO regress_fc_sec_alice;
GRANT SELECT (id) ON ledger TO regress_fc_sec_bob;
CREATE VIEW ledger_ids AS SELECT id FROM ledger;
GRANT SELECT ON ledger_ids TO regress_fc_sec_bob;

-- Cached by a superuser...
SELECT fast_count('SELECT * FROM ledger') AS cached_by_superuser;
-- ...served to a role with SELECT...
SET ROLE regress_fc_sec_alice;
SELECT fast_count('SELECT * FROM ledger') AS alice;
SELECT query, count FROM fast_count_entries;
-- ...and refused to one without it, although the count is cached.
SET ROLE regress_fc_sec_bob;
SELECT fast_count('SELECT * FROM ledger');
-- Column privileges count: bob may read id, and through the view.
SELECT fast_count('SELECT id FROM ledger') AS bob_ids;
SELECT fast_count('SELECT * FROM ledger_ids') AS bob_view;
SELECT fast_count('SELECT amount FROM ledger');
-- bob sees only entries over relations he can read.
SELECT query FROM fast_count_entries ORDER BY query;
-- Registering, refreshing: the same checks.
SELECT fast_count_register('SELECT * FROM ledger');
SELECT fast_count_refresh('SELECT * FROM ledger');

-- Nobody but the extension writes the cache; it is not even readable.
INSERT INTO fast_count.entries (key, query, settings, owner, relids, tables, count)
  VALUES (gen_random_uuid(), 'SELECT * FROM ledger', '{}', 10, '{}', '{}', 1);
SELECT * FROM fast_count.entries;
RESET ROLE;

-- Row-level security: counted live for each role, never cached.
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON secrets USING (owner_name = current_user);
GRANT SELECT ON secrets TO regress_fc_sec_alice, regress_fc_sec_bob;
SET ROLE regress_fc_sec_alice;
SELECT fast_count('SELECT * FROM secrets') AS alice_rows;
SET ROLE regress_fc_sec_bob;
SELECT fast_count('SELECT * FROM secrets') AS bob_rows;
RESET ROLE;
SELECT count(*) AS cached_rls_entries FROM fast_count.entries WHERE query LIKE '%secrets%';
SET ROLE regress_fc_sec_alice;
SELECT fast_count_register('SELECT * FROM secrets');
RESET ROLE;

-- A registration belongs to the role that made it.
SET ROLE regress_fc_sec_alice;
SELECT fast_count_register('SELECT * FROM ledger WHERE amount > 10') IS NOT NULL AS alice_registered;
SELECT owner FROM fast_count_entries WHERE query = 'SELECT * FROM ledger WHERE amount > 10';
GRANT SELECT ON ledger TO regress_fc_sec_bob;
SET ROLE regress_fc_sec_bob;
SELECT fast_count_unregister('SELECT * FROM ledger WHERE amount > 10');
SELECT fast_count_register('SELECT * FROM ledger WHERE amount > 10', '1 minute');
SET ROLE regress_fc_sec_alice;
SELECT fast_count_unregister('SELECT * FROM ledger WHERE amount > 10') AS alice_unregistered;
RESET ROLE;

-- The count is computed by our own count(*), whatever the caller's search_path holds.
CREATE SCHEMA evil;
CREATE FUNCTION evil.always_one(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint';
CREATE AGGREGATE evil.count(*) (sfunc = evil.always_one, stype = bigint, initcond = '0');
SET search_path = evil, public;
SELECT fast_count('SELECT * FROM ledger WHERE amount > 20') AS not_fooled;
RESET search_path;

-- Our SQL functions (none left since 0.2.1) and the C ones that take no
-- query pin their search_path; the C ones that take a query read it in the
-- caller's.
SELECT p.proname, p.proconfig FROM pg_proc p
  JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'fast_count'
 WHERE p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c') OR p.proconfig IS NOT NULL
 ORDER BY 1;

REVOKE ALL ON ledger, ledger_ids, secrets FROM regress_fc_sec_alice, regress_fc_sec_bob;
DROP POLICY own_rows ON secrets;
DROP OWNED BY regress_fc_sec_alice, regress_fc_sec_bob;
DROP ROLE regress_fc_sec_alice, regress_fc_sec_bob;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP VIEW ledger_ids;
DROP TABLE secrets, ledger;
DROP SCHEMA evil CASCADE;
RESET client_min_messages;
