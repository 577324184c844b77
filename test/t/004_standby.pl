# A hot standby serves the counts cached on the primary, counts misses live
# without writing, refuses registration, and runs no worker.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = new_fast_count_node('primary', allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE items AS SELECT g AS id, g % 4 AS state FROM generate_series(1, 4000) g;
	SET fast_count.cache_larger_than = 0;
	SELECT fast_count('SELECT * FROM items');
	SELECT fast_count_register('SELECT * FROM items WHERE state = 1', '1 second');
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

ok($primary->poll_query_until('postgres',
		"SELECT count = 1000 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 1'"),
	'the primary worker counted the registered query');
$primary->wait_for_catchup($standby);

sleep 2;
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'fast_count%'"),
	'0', 'no launcher and no worker on the standby');

# Served from the replicated cache: the primary's table changed, the cached
# count did not.
$primary->safe_psql('postgres', 'INSERT INTO items SELECT g, 0 FROM generate_series(4001, 4100) g');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM items')}),
	'4000', 'the standby serves the count cached on the primary');
is($standby->safe_psql('postgres',
		q{SET fast_count.transparent = 'all'; SELECT count(*) FROM items}),
	'4000', 'so does a plain count(*) in transparent mode');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM items}),
	'4100', 'which by default (exact) runs as written: the count is not exact');
is($standby->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM items WHERE state = 0')}),
	'1100', 'a miss on the standby is counted live');
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 0'"),
	'0', 'and not stored');

# A refresh on the primary reaches the standby.
$primary->safe_psql('postgres', q{SELECT fast_count_refresh('SELECT * FROM items')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM items')}),
	'4100', 'a refresh on the primary is served on the standby');
ok($standby->poll_query_until('postgres',
		"SELECT count = 1000 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 1'"),
	'registered counts replicate');

my ($ret, $stdout, $stderr) = $standby->psql('postgres',
	q{SELECT fast_count_register('SELECT * FROM items WHERE state = 2')});
isnt($ret, 0, 'registration fails on the standby');
like($stderr, qr/cannot register a query in a read-only transaction/, 'with a clear error');
like($stderr, qr/This server is a standby/, 'and a hint');
($ret, $stdout, $stderr) = $standby->psql('postgres',
	q{SELECT fast_count_refresh('SELECT * FROM items')});
like($stderr, qr/cannot refresh a cached count in a read-only transaction/, 'refresh fails on the standby');

# After promotion the worker starts and refreshes.
$standby->promote;
ok($standby->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'a worker starts once the standby is promoted');
$standby->safe_psql('postgres', 'INSERT INTO items SELECT g, 1 FROM generate_series(5001, 5010) g');
ok($standby->poll_query_until('postgres',
		"SELECT count = 1010 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 1'"),
	'and refreshes registered queries');

$standby->stop;
$primary->stop;
done_testing();
