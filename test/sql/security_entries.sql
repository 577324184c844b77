-- Issue 9, items 2, 5 and 7, as a hostile role: listing entries leaks
-- nothing a role may not read, registrations cannot be hijacked or frozen,
-- and no function answers differently for relations the caller cannot read.
SET fast_count.cache_larger_than = 0;
TRUNCATE fast_count.entries;
CREATE ROLE regress_fc_ent_alice;
CREATE ROLE regress_fc_ent_mallory;
GRANT CREATE ON SCHEMA public TO regress_fc_ent_alice, regress_fc_ent_mallory;

-- alice's data: secret is hers alone; mallory may read shared_t.
SET ROLE regress_fc_ent_alice;
CREATE TABLE secret (id int, ssn text);
INSERT INTO secret SELECT g, 'ssn' || g FROM generate_series(1, 100) g;
CREATE TABLE shared_t (id int);
INSERT INTO shared_t SELECT generate_series(1, 5000);
GRANT SELECT ON shared_t TO regress_fc_ent_mallory;
SELECT fast_count('SELECT * FROM secret WHERE ssn = $1', ARRAY['ssn42']) AS alice_cached;
SELECT fast_count_register('SELECT * FROM secret WHERE ssn = ''ssn7''', '1 hour') IS NOT NULL AS alice_registered;
SELECT fast_count_refresh('SELECT * FROM secret WHERE ssn = ''ssn7''') AS alice_refreshed;
RESET ROLE;
CREATE SCHEMA alice_s AUTHORIZATION regress_fc_ent_alice;
SET ROLE regress_fc_ent_alice;
CREATE TABLE alice_s.hidden_t (id int);
SET search_path = alice_s, public;
SELECT fast_count_register('SELECT * FROM hidden_t') IS NOT NULL AS alice_registered_in_her_schema;
RESET search_path;
CREATE TABLE doomed (id int);
SELECT fast_count_register('SELECT * FROM doomed') IS NOT NULL AS alice_registered_doomed;
DROP TABLE doomed;
SELECT count(*) AS alice_sees FROM fast_count_entries;

-- 2. The entries view: a cheap leaky function or operator in mallory's
-- WHERE sees no row of alice's (no NOTICE below), whatever column it reads.
SET ROLE regress_fc_ent_mallory;
CREATE FUNCTION leak(q text, p text, c bigint) RETURNS bool LANGUAGE plpgsql COST 0.0000001 AS
$$BEGIN RAISE NOTICE 'LEAK: % % => %', q, p, c; RETURN true; END$$;
SELECT count(*) FROM fast_count_entries WHERE leak(query, params::text, count);
SELECT count(*) FROM fast_count_entries WHERE leak(key::text, relations::text, hits);
SELECT count(*) FROM fast_count_entries WHERE leak(owner::text, settings::text, failures);
CREATE FUNCTION leak_eq(text, text) RETURNS bool LANGUAGE plpgsql COST 0.0000001 AS
$$BEGIN RAISE NOTICE 'LEAK: %', $1; RETURN true; END$$;
CREATE OPERATOR === (LEFTARG = text, RIGHTARG = text, FUNCTION = leak_eq);
SELECT count(*) FROM fast_count_entries WHERE query === 'x';
SELECT count(*) FROM fast_count_entries e JOIN generate_series(1, 2) g ON leak(e.query, e.last_error, g);
-- The function under the view is not reachable either.
SELECT count(*) FROM fast_count._entries() e WHERE leak(e.query, null, e.count);
RESET ROLE;

-- The activity counters list keys (hashes of query trees) only of entries
-- the caller may see: 0.2.1 drops fast_count._counters(), and its C
-- function, which 0.2.0's view still calls until ALTER EXTENSION UPDATE,
-- filters.
SELECT count(*) AS counters_functions FROM pg_proc WHERE proname = '_counters';
CREATE FUNCTION public.counters_of_020(OUT key uuid, OUT hits bigint, OUT misses bigint,
                                       OUT refreshes bigint)
RETURNS SETOF record AS 'fast_count', 'fast_count_counters' LANGUAGE C;
SELECT count(*) > 0 AS superuser_sees_keys FROM public.counters_of_020();
SET ROLE regress_fc_ent_mallory;
SELECT count(*) AS mallory_sees_keys FROM public.counters_of_020();
RESET ROLE;
DROP FUNCTION public.counters_of_020();

-- 7. Oracles: for a relation mallory cannot read, every function gives the
-- same answer whether or not alice registered or cached something over it.
SET ROLE regress_fc_ent_mallory;
SELECT fast_count_unregister('SELECT * FROM secret WHERE ssn = ''ssn7''');  -- registered
SELECT fast_count_unregister('SELECT * FROM secret WHERE ssn = ''ssn8''');  -- not registered
SELECT fast_count_register('SELECT * FROM secret WHERE ssn = ''ssn7''', '1 day');
SELECT fast_count_register('SELECT * FROM secret WHERE ssn = ''ssn8''', '1 day');
SELECT fast_count_refresh('SELECT * FROM secret WHERE ssn = ''ssn7''');
SELECT fast_count_refresh('SELECT * FROM secret WHERE ssn = ''ssn8''');
SELECT fast_count('SELECT * FROM secret WHERE ssn = $1', ARRAY['ssn42']);  -- cached
SELECT fast_count('SELECT * FROM secret WHERE ssn = $1', ARRAY['ssn43']);  -- not cached
SELECT fast_count_estimate('SELECT * FROM secret WHERE ssn = $1', ARRAY['ssn42']);
SELECT fast_count_register('SELECT * FROM secret WHERE ssn = ''ssn7''', '1 day', mode => 'exact');
-- The same text naming another relation in mallory's path: alice's
-- registration of it (in her schema) does not exist for mallory...
CREATE TABLE hidden_t (id int);
SELECT fast_count_unregister('SELECT * FROM hidden_t');
SELECT fast_count_unregister('SELECT * FROM hidden_t WHERE true');
-- ...nor does one over a dropped table: the same error as for any text.
SELECT fast_count_unregister('SELECT * FROM doomed');
SELECT fast_count_unregister('SELECT * FROM doomed_never_registered');
RESET ROLE;
-- alice's registrations are all still there, and hers to remove.
SET ROLE regress_fc_ent_alice;
SELECT query, kind, owner FROM fast_count_entries ORDER BY query;
SELECT fast_count_unregister('SELECT * FROM doomed') AS alice_unregistered_doomed;

-- 5. Freezing: an interval above fast_count.max_refresh_every (server-wide,
-- 1 day by default) is refused, also as the session's default interval.
SET ROLE regress_fc_ent_mallory;
SHOW fast_count.max_refresh_every;
SET fast_count.max_refresh_every = '1000 years';
SELECT fast_count_register('SELECT * FROM shared_t', '1000 years');
SELECT fast_count_register('SELECT * FROM shared_t', '178000000 years');
SELECT fast_count_register('SELECT * FROM shared_t', '1 day 1 second');
SET fast_count.refresh_every = '2d';
SELECT fast_count_register('SELECT * FROM shared_t');
RESET fast_count.refresh_every;
SELECT fast_count_register('SELECT * FROM shared_t', '0.5 s');
SELECT count(*) AS mallory_registered_nothing FROM fast_count_entries;

-- Within the maximum mallory registers alice's query first...
SELECT fast_count_register('SELECT * FROM shared_t', '1 day') IS NOT NULL AS mallory_registered;
SELECT fast_count_register('SELECT * FROM shared_t WHERE id > 100', '1 day') IS NOT NULL AS mallory_registered;
SELECT query, owner, refresh_every FROM fast_count_entries ORDER BY query;
-- ...and alice, who owns the table, takes one over (it becomes hers: her
-- interval, refreshed as her) and removes the other.
SET ROLE regress_fc_ent_alice;
SELECT fast_count_register('SELECT * FROM shared_t', '5 min') IS NOT NULL AS alice_took_over;
SELECT fast_count_unregister('SELECT * FROM shared_t WHERE id > 100') AS alice_removed;
SELECT fast_count_refresh('SELECT * FROM shared_t') AS alice_refreshed;
SELECT query, owner, refresh_every FROM fast_count_entries WHERE query LIKE '%shared_t%' ORDER BY query;
-- mallory cannot change, remove or refresh alice's registration back.
SET ROLE regress_fc_ent_mallory;
SELECT fast_count_register('SELECT * FROM shared_t', '1 day');
SELECT fast_count_unregister('SELECT * FROM shared_t');
SELECT fast_count_refresh('SELECT * FROM shared_t');
-- A query nobody registered she may refresh, and read alice's count.
SELECT fast_count_refresh('SELECT * FROM shared_t WHERE id > 4000') AS mallory_refreshed;
SELECT fast_count('SELECT * FROM shared_t') AS mallory_reads;
RESET ROLE;
-- Superusers manage any registration.
SELECT fast_count_register('SELECT * FROM shared_t WHERE id > 4000', '1 hour') IS NOT NULL AS superuser_registered;
SET ROLE regress_fc_ent_mallory;
SELECT fast_count_refresh('SELECT * FROM shared_t WHERE id > 4000');
RESET ROLE;
SELECT fast_count_unregister('SELECT * FROM shared_t WHERE id > 4000') AS superuser_removed;

-- A registration made with a longer interval (as 0.2.0 allowed) is capped
-- when used: its next refresh is at most max_refresh_every after its last
-- check, for readers, the worker and the view alike.
SET ROLE regress_fc_ent_mallory;
SELECT fast_count_register('SELECT * FROM shared_t WHERE id <= 3000', '1 day') IS NOT NULL AS mallory_registered;
SELECT fast_count_refresh('SELECT * FROM shared_t WHERE id <= 3000') AS counted;
RESET ROLE;
UPDATE fast_count.entries SET refresh_every = '1000 years', next_refresh_at = now() + '1000 years'
 WHERE query = 'SELECT * FROM shared_t WHERE id <= 3000';
SELECT refresh_every, next_refresh_at <= checked_at + interval '1 day' AS capped
  FROM fast_count_entries WHERE query = 'SELECT * FROM shared_t WHERE id <= 3000';

-- fast_count.max_age: alice bounds how old a count she is served may be,
-- whoever registered it. Her rows change; mallory's registration keeps
-- serving the count it took (until its next refresh)...
SET ROLE regress_fc_ent_alice;
DELETE FROM shared_t WHERE id <= 1000;
SHOW fast_count.max_age;
SELECT fast_count('SELECT * FROM shared_t WHERE id <= 3000') AS served_as_registered;
SET fast_count.max_age = '1h';
SELECT fast_count('SELECT * FROM shared_t WHERE id <= 3000') AS young_enough;
-- ...a count older than max_age (aged here by hand) is a miss for her.
RESET ROLE;
UPDATE fast_count.entries SET counted_at = counted_at - interval '2 hours',
                              checked_at = now()
 WHERE query = 'SELECT * FROM shared_t WHERE id <= 3000';
SET ROLE regress_fc_ent_alice;
RESET fast_count.max_age;
SELECT fast_count('SELECT * FROM shared_t WHERE id <= 3000') AS without_max_age;
SET fast_count.max_age = '1h';
SELECT fast_count('SELECT * FROM shared_t WHERE id <= 3000') AS with_max_age;
RESET fast_count.max_age;
SET fast_count.max_age = -1;
RESET ROLE;

-- A role that lost SELECT may still remove its own registration, and
-- learns nothing about anyone else's.
SET ROLE regress_fc_ent_mallory;
SELECT fast_count_register('SELECT * FROM shared_t WHERE id > 200', '1 hour') IS NOT NULL AS mallory_registered;
SET ROLE regress_fc_ent_alice;
REVOKE SELECT ON shared_t FROM regress_fc_ent_mallory;
SET ROLE regress_fc_ent_mallory;
SELECT fast_count_unregister('SELECT * FROM shared_t WHERE id > 200') AS mallory_unregistered;
SELECT fast_count_unregister('SELECT * FROM shared_t');  -- alice's
SELECT fast_count_unregister('SELECT * FROM shared_t WHERE id > 300');  -- nobody's
RESET ROLE;

-- The view is a security barrier too (nothing is pushed below the function).
SELECT reloptions FROM pg_class WHERE oid = 'fast_count_entries'::regclass;

TRUNCATE fast_count.entries;
REVOKE CREATE ON SCHEMA public FROM regress_fc_ent_alice, regress_fc_ent_mallory;
DROP SCHEMA alice_s CASCADE;
DROP OWNED BY regress_fc_ent_alice, regress_fc_ent_mallory;
DROP ROLE regress_fc_ent_alice, regress_fc_ent_mallory;
