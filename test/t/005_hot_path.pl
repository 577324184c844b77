# The hot path: a session's memo of analyzed queries follows catalog changes
# made by other sessions; the shared index is rebuilt after a restart and
# agrees with the catalog table after a crash; the worker skips unchanged
# tables; estimates answer cold misses and are then replaced by counts.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_fast_count_node('hot_path', conf => "restart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	ALTER SYSTEM SET fast_count.cache_larger_than = 0;
	SELECT pg_reload_conf();
	CREATE SCHEMA first;
	CREATE SCHEMA other;
	CREATE TABLE items AS SELECT generate_series(1, 100) AS id;
	CREATE TABLE other.items AS SELECT generate_series(1, 7) AS id;
});

# --- the memo follows other sessions' catalog changes ---------------------
my $a = $node->background_psql('postgres');
my $q = q{SELECT fast_count('SELECT * FROM items');};
is($a->query_safe($q), '100', 'session A counts items');
is($a->query_safe($q), '100', 'and serves it again (from its memo and the cache)');

$node->safe_psql('postgres', q{
	ALTER TABLE items RENAME TO items_old;
	CREATE TABLE items AS SELECT generate_series(1, 42) AS id;
});
is($a->query_safe($q), '42', 'ALTER TABLE ... RENAME elsewhere: A reads the new "items"');

$node->safe_psql('postgres', q{
	DROP TABLE items;
	CREATE TABLE items AS SELECT generate_series(1, 5) AS id;
});
is($a->query_safe($q), '5', 'DROP and CREATE of a same-named table: A reads the new one');

$a->query_safe('SET search_path = other, public');
is($a->query_safe($q), '7', 'SET search_path: A reads other.items');
$a->query_safe('RESET search_path');
is($a->query_safe($q), '5', 'RESET search_path: back to public.items');

$a->query_safe('SET search_path = first, public');
is($a->query_safe($q), '5', 'with "first" first in the path, public.items is read');
$node->safe_psql('postgres', 'CREATE TABLE first.items AS SELECT generate_series(1, 3) AS id');
is($a->query_safe($q), '3', 'a table created under the same name earlier in the path is read');
$a->query_safe('RESET search_path');
$a->quit;

# --- the shared index --------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE TABLE big AS SELECT generate_series(1, 3000) AS id;
	SELECT fast_count('SELECT * FROM big');
	SELECT fast_count('SELECT * FROM big WHERE id > 1000');
	SELECT fast_count_stats_reset();
});
$node->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM big')});
is($node->safe_psql('postgres',
		"SELECT hits FROM fast_count_entries WHERE query = 'SELECT * FROM big'"),
	'1', 'a hit is counted on its entry in the shared index');

$node->restart;
ok($node->poll_query_until('postgres',
		"SELECT entries = (SELECT count(*) FROM fast_count.entries) FROM fast_count_stats()"),
	'after a restart the worker loads every entry into the shared index');
$node->safe_psql('postgres', 'INSERT INTO big SELECT generate_series(3001, 3100)');
is($node->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM big')}),
	'3000', 'and the cached count is served from it');
is($node->safe_psql('postgres',
		"SELECT hits FROM fast_count_entries WHERE query = 'SELECT * FROM big'"),
	'1', 'as a hit');

# A refresh killed halfway: after crash recovery the index matches the table.
my $slow = create_slow_table($node, 600);
$node->safe_psql('postgres', "SELECT fast_count_refresh('$slow')");
$node->safe_psql('postgres', 'DELETE FROM wide WHERE id > 400');
my $pid = kill_refresh_halfway($node, $slow);
ok($node->log_contains(qr/server process \(PID $pid\) was terminated by signal 9/),
	'a refresh was killed halfway');
ok($node->poll_query_until('postgres',
		"SELECT entries = (SELECT count(*) FROM fast_count.entries) FROM fast_count_stats()"),
	'after crash recovery the index is rebuilt from the table');
is($node->safe_psql('postgres', "SELECT fast_count('$slow')"),
	'600', 'the index serves the count the table has, not the killed one');
is($node->safe_psql('postgres', "SELECT count FROM fast_count.entries WHERE query = '$slow'"),
	'600', 'which is the previous count');

# --- change-aware refresh ----------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE TABLE quiet AS SELECT generate_series(1, 500) AS id;
	SELECT fast_count_register('SELECT * FROM quiet', '1 second');
});
ok($node->poll_query_until('postgres',
		"SELECT count = 500 FROM fast_count_entries WHERE query = 'SELECT * FROM quiet'"),
	'the registered query is counted');
sleep 1;
my $counts_before = $node->safe_psql('postgres',
	"SELECT refreshes FROM fast_count_entries WHERE query = 'SELECT * FROM quiet'");
my $checked_before = $node->safe_psql('postgres',
	"SELECT checked_at FROM fast_count_entries WHERE query = 'SELECT * FROM quiet'");
sleep 5;
is($node->safe_psql('postgres',
		"SELECT refreshes FROM fast_count_entries WHERE query = 'SELECT * FROM quiet'"),
	$counts_before, 'five intervals on unchanged tables: no count ran');
is($node->safe_psql('postgres',
		"SELECT checked_at > '$checked_before' AND next_refresh_at > now() - interval '2 seconds' FROM fast_count_entries WHERE query = 'SELECT * FROM quiet'"),
	't', 'but the count was checked and its next refresh moved on');
$node->safe_psql('postgres', 'INSERT INTO quiet SELECT generate_series(501, 520)');
ok($node->poll_query_until('postgres',
		"SELECT count = 520 FROM fast_count_entries WHERE query = 'SELECT * FROM quiet'"),
	'an INSERT is noticed and counted');
$node->safe_psql('postgres', 'TRUNCATE quiet');
ok($node->poll_query_until('postgres',
		"SELECT count = 0 FROM fast_count_entries WHERE query = 'SELECT * FROM quiet'"),
	'a TRUNCATE is noticed and counted');

# --- estimates ----------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE TABLE cold AS SELECT g AS id, g % 10 AS kind FROM generate_series(1, 20000) g;
	ANALYZE cold;
});
my $estimate = $node->safe_psql('postgres',
	q{SELECT fast_count_estimate('SELECT * FROM cold WHERE kind = 3')});
ok($estimate > 1000 && $estimate < 3000, "fast_count_estimate is the planner's estimate ($estimate for 2000)");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM fast_count.entries WHERE query = 'SELECT * FROM cold WHERE kind = 3'"),
	'0', 'and caches nothing');

my $answer = $node->safe_psql('postgres', q{
	SET fast_count.estimate_on_miss = on;
	SELECT fast_count('SELECT * FROM cold WHERE kind = 4');
});
ok($answer > 1000 && $answer < 3000, "estimate_on_miss answers a cold miss with the estimate ($answer)");
ok($node->poll_query_until('postgres',
		"SELECT NOT is_estimate AND count = 2000 FROM fast_count_entries WHERE query = 'SELECT * FROM cold WHERE kind = 4'"),
	'the worker then counts it and the entry stops being an estimate');
is($node->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM cold WHERE kind = 4')}),
	'2000', 'readers get the count');

# --- totals ----------------------------------------------------------------------
my ($hits, $counts) = split /\|/, $node->safe_psql('postgres',
	'SELECT hits, counts FROM fast_count_stats()');
ok($hits > 0 && $counts > 0, "fast_count_stats counts hits ($hits) and counts ($counts)");
$node->safe_psql('postgres', 'SELECT fast_count_stats_reset()');
is($node->safe_psql('postgres', 'SELECT hits + misses FROM fast_count_stats()'),
	'0', 'fast_count_stats_reset sets them back to zero');

$node->stop;
done_testing();
