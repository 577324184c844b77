# The preloaded launcher and the per-database workers: which databases get a
# worker, how registered queries get refreshed, and how a worker gives way to
# configuration changes, DROP EXTENSION, DROP DATABASE and termination.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_fast_count_node('worker');
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('app', 'CREATE EXTENSION fast_count');

ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count launcher'"),
	'the launcher runs');
ok($node->poll_query_until('app',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND datname = 'app'"),
	'CREATE EXTENSION starts a worker for its database');
sleep 2;
is(worker_count($node, 'plain'), '0', 'a database without the extension has no worker');
is(worker_count($node, 'app'), '1', 'one worker per database');

# A registered query is counted right away and again every interval.
$node->safe_psql('app', q{
	CREATE TABLE items AS SELECT g AS id, g % 3 AS state FROM generate_series(1, 3000) g;
	SELECT fast_count_register('SELECT * FROM items WHERE state = 1', '1 second');
});
ok($node->poll_query_until('app',
		"SELECT count = 1000 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 1'"),
	'registered query counted by the worker');
$node->safe_psql('app', 'INSERT INTO items SELECT g, 1 FROM generate_series(3001, 3500) g');
ok($node->poll_query_until('app',
		"SELECT count = 1500 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 1'"),
	'registered query refreshed within its interval');
ok($node->log_contains(qr/fast_count: refreshed registered query: \d+ rows in/),
	'the worker logs what it refreshed');
ok($node->poll_query_until('app',
		"SELECT state = 'idle' AND query = 'fast_count: waiting for the next refresh' FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'pg_stat_activity shows the worker waiting between refreshes');

# A session that refreshed a registered query and keeps its transaction
# open holds a version of that entry's row: the worker does not wait for it
# (it would hold up every other registered query), it goes on refreshing
# the others and refreshes that one once the session's transaction ends.
$node->safe_psql('app',
	q{SELECT fast_count_register('SELECT * FROM items WHERE state = 2', '1 second')});
ok($node->poll_query_until('app',
		"SELECT count = 1000 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 2'"),
	'a second registered query is counted');
my $open = $node->background_psql('app');
$open->query_safe('BEGIN');
is($open->query_safe(q{SELECT fast_count_refresh('SELECT * FROM items WHERE state = 1')}),
	'1500', 'a session refreshes a registered query and keeps its transaction open');
$node->safe_psql('app', q{
	INSERT INTO items SELECT g, 1 FROM generate_series(3501, 3600) g;
	INSERT INTO items SELECT g, 2 FROM generate_series(3601, 3700) g;
});
ok($node->poll_query_until('app',
		"SELECT count = 1100 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 2'"),
	'the worker goes on refreshing the other registered queries');
is($node->safe_psql('app',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND wait_event_type = 'Lock'"),
	'0', 'and waits for no lock');
$open->query_safe('COMMIT');
$open->quit;
ok($node->poll_query_until('app',
		"SELECT count = 1600 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 1'"),
	'the held entry is refreshed once the transaction has ended');

# A count is published to shared memory as soon as it is counted: one whose
# transaction then rolls back has no row, and the worker frees its slot
# once it expires (no row's removal ever will).
my $slots = $node->safe_psql('app', 'SELECT entries FROM fast_count_stats()');
$node->safe_psql('app', q{
	BEGIN;
	SET LOCAL fast_count.cache_larger_than = 0;
	SET LOCAL fast_count.expire_after = 1;
	SELECT fast_count('SELECT * FROM items WHERE id < 10');
	ROLLBACK;
});
is($node->safe_psql('app', "SELECT entries - $slots FROM fast_count_stats()"),
	'1', 'a count published before its transaction rolled back keeps a slot');
ok($node->poll_query_until('app', "SELECT entries = $slots FROM fast_count_stats()"),
	'the worker frees that slot once the count has expired');

# fast_count.log_level turns those lines down.
$node->append_conf('postgresql.conf', "fast_count.log_level = debug1\n");
$node->reload;
sleep 2;
my $offset = -s $node->logfile;
sleep 3;
my $later = slurp_file($node->logfile, $offset);
unlike($later, qr/refreshed registered query/, 'fast_count.log_level = debug1 silences refresh lines');

# fast_count.databases (SIGHUP): a database it does not list loses its worker...
$node->append_conf('postgresql.conf', "fast_count.databases = 'postgres'\n");
$node->reload;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND datname = 'app'"),
	'worker leaves a database that fast_count.databases no longer lists');
ok($node->log_contains(qr/fast_count worker for database "app" exits: fast_count.databases no longer lists this database/),
	'and says why');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_locks
	 WHERE locktype = 'object' AND classid = 'pg_database'::regclass
	   AND objid = (SELECT oid FROM pg_database WHERE datname = 'app')}),
	'0', 'and leaves no lock on the database behind');
# ...and gets it back from the launcher when listed again.
$node->append_conf('postgresql.conf', "fast_count.databases = ''\n");
$node->reload;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND datname = 'app'"),
	'the launcher starts the worker again');

# A terminated worker comes back, and leaves no lock behind either.
my $pid = worker_pid($node, 'app');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' "
		  . "AND datname = 'app' AND pid <> $pid"),
	'a terminated worker is started again');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_locks WHERE pid = $pid"),
	'0', 'the terminated worker holds no lock');

# CREATE EXTENSION in a database the launcher had skipped.
$node->safe_psql('plain', 'CREATE EXTENSION fast_count');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND datname = 'plain'"),
	'CREATE EXTENSION in a skipped database gets it a worker');

# DROP EXTENSION: the worker leaves and the launcher does not restart it.
$node->safe_psql('plain', 'DROP EXTENSION fast_count');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND datname = 'plain'"),
	'DROP EXTENSION stops the worker');
sleep 3;
is(worker_count($node, 'plain'), '0', 'and it stays stopped');

# DROP DATABASE is not blocked by the worker connected to it.
is(worker_count($node, 'app'), '1', 'app has its worker before DROP DATABASE');
my ($ret, $stdout, $stderr) = $node->psql('postgres', "SET lock_timeout = '60s'; DROP DATABASE app");
is($ret, 0, 'DROP DATABASE succeeds while a worker serves the database')
  or diag($stderr);
sleep 3;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'0', 'no worker is left after the drop');

$node->stop;
done_testing();
