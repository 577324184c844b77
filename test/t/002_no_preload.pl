# Without shared_preload_libraries: fast_count() still works, and
# fast_count_register() starts a worker for its database on demand.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_fast_count_node('no_preload', preload => 0);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 2000) g;
});

is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'fast_count%'"),
	'0', 'no launcher and no worker without preload');

is($node->safe_psql('postgres', q{
	SET fast_count.cache_larger_than = 0;
	SELECT fast_count('SELECT * FROM items');
}), '2000', 'fast_count() counts without preload');
$node->safe_psql('postgres', 'INSERT INTO items SELECT generate_series(2001, 2010)');
is($node->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM items')}),
	'2000', 'and serves the cached count');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'fast_count%'}),
	'0', 'reading starts no worker when nothing is registered');

# Without the shared index too, an open transaction holds up no other
# reader: a reader keeps its key lock only while it counts, and a reader
# that finds the key locked by a transaction that is not counting counts
# live. (lock_timeout only turns a wait for the open transaction into a
# failure instead of a hang.)
my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
$open->query_safe('SET LOCAL fast_count.cache_larger_than = 0');
is($open->query_safe(q{SELECT fast_count('SELECT * FROM items WHERE id <= 500')}),
	'500', 'a reader counts in a transaction it keeps open');
is($node->safe_psql('postgres', q{
	SET lock_timeout = '60s';
	SET fast_count.cache_larger_than = 0;
	SELECT fast_count('SELECT * FROM items WHERE id <= 500');
}), '500', 'another reader does not wait for that transaction');
$open->query_safe(
	q{SELECT fast_count_register('SELECT * FROM items WHERE id <= 100', '1 hour')});
is($node->safe_psql('postgres', q{
	SET lock_timeout = '60s';
	SELECT fast_count('SELECT * FROM items WHERE id <= 100');
}), '100', 'nor for a registration left open');
$open->query_safe('ROLLBACK');
$open->quit;

$node->safe_psql('postgres',
	q{SELECT fast_count_register('SELECT * FROM items WHERE id > 1000', '1 second')});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'registration started a worker');
ok($node->poll_query_until('postgres',
		"SELECT count = 1010 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE id > 1000'"),
	'the worker counts the registered query');
$node->safe_psql('postgres', 'INSERT INTO items SELECT generate_series(2011, 2100)');
ok($node->poll_query_until('postgres',
		"SELECT count = 1100 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE id > 1000'"),
	'and refreshes it');

# A second registration does not start a second worker.
$node->safe_psql('postgres',
	q{SELECT fast_count_register('SELECT * FROM items WHERE id < 10', '1 second')});
ok($node->poll_query_until('postgres',
		"SELECT count = 9 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE id < 10'"),
	'the running worker picks up a new registration');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'1', 'still one worker');

# After a restart nobody started the worker; a reader of a count past its
# refresh time does.
$node->restart;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'0', 'no worker after a restart without preload');
sleep 2;
is($node->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM items WHERE id > 1000')}),
	'1100', 'the stale registered count is served at once');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'and the reader started the worker');

is($node->safe_psql('postgres', "LOAD 'fast_count'; SHOW fast_count.naptime"), '1s',
	'settings are visible once the library is loaded');

$node->stop;
done_testing();
