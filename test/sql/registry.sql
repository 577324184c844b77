-- Registration: the worker re-counts a registered query every interval.
TRUNCATE fast_count.entries;
CREATE TABLE orders (id int, state text);
INSERT INTO orders SELECT g, (ARRAY['new','paid','sent'])[1 + g % 3] FROM generate_series(1, 300) g;

-- Registration returns the entry's key.
SELECT fast_count_register('SELECT * FROM orders WHERE state = ''paid''', '1 hour') AS key \gset
SELECT key = :'key' AS same_key, kind, refresh_every, query
  FROM fast_count_entries WHERE key = :'key';
-- Another spelling of it is the same registration; registering again
-- changes its interval.
SELECT fast_count_register('select * from orders o where o.state = $1', '30 minutes', ARRAY['paid']) = :'key' AS same_key;
SELECT count(*) AS entries, min(refresh_every) AS refresh_every FROM fast_count_entries;
-- Without an interval, fast_count.refresh_every applies.
SET fast_count.refresh_every = '5min';
SELECT fast_count_register('SELECT * FROM orders WHERE state = ''new''') IS NOT NULL AS registered;
SELECT refresh_every FROM fast_count_entries WHERE query LIKE '%''new''%';
RESET fast_count.refresh_every;

-- The registration records what the text meant when it was registered.
SELECT owner, relations, settings[1] AS search_path, next_refresh_at <= now() + interval '1 hour' AS due_soon
  FROM fast_count_entries WHERE key = :'key';

-- A registered count is served like any other; refresh counts it now.
SELECT fast_count_refresh('SELECT * FROM orders WHERE state = ''paid''') AS refreshed;
SELECT count AS cached_count, last_count_duration IS NOT NULL AS timed
  FROM fast_count_entries WHERE key = :'key';

-- Unregistering by any spelling removes it; again, there is nothing to remove.
SELECT fast_count_unregister('SELECT * FROM orders WHERE state = $1', ARRAY['paid']) AS removed;
SELECT fast_count_unregister('SELECT * FROM orders WHERE state = ''paid''') AS removed_again;
SELECT count(*) AS left_entries FROM fast_count_entries WHERE key = :'key';

-- Registered queries outlive their table's DROP: the count goes, the
-- registration stays (with the reason), and can be removed by its text.
CREATE TABLE temporary_stuff (x int);
INSERT INTO temporary_stuff SELECT generate_series(1, 10);
SELECT fast_count_register('SELECT * FROM temporary_stuff', '1 hour') IS NOT NULL AS registered;
SELECT fast_count_refresh('SELECT * FROM temporary_stuff') AS counted;
DROP TABLE temporary_stuff;
-- (The worker may already have retried it and recorded why that failed.)
SELECT kind, count, last_error IN ('a relation the query reads was dropped',
                                   'relation "temporary_stuff" does not exist') AS error_recorded
  FROM fast_count_entries WHERE query = 'SELECT * FROM temporary_stuff';
SELECT fast_count_unregister('SELECT * FROM temporary_stuff') AS removed_after_drop;
SELECT count(*) AS left_entries FROM fast_count_entries WHERE query = 'SELECT * FROM temporary_stuff';

-- Not in a read-only transaction.
BEGIN READ ONLY;
SELECT fast_count_register('SELECT * FROM orders');
ROLLBACK;
BEGIN READ ONLY;
SELECT fast_count_unregister('SELECT * FROM orders');
ROLLBACK;

-- Leave nothing behind, so that the suites run alone or in any order.
SET client_min_messages = warning;
DROP TABLE orders;
RESET client_min_messages;
