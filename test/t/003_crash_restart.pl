# The catalog table is the source of truth: cached counts survive a restart,
# and a refresh killed halfway (backend or worker, by SIGKILL) leaves the
# previous count, never a partial one. The worker comes back afterwards.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_fast_count_node('crash', conf => "restart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 500) g;
	SET fast_count.cache_larger_than = 0;
	SELECT fast_count('SELECT * FROM small');
});

# Restart: the count is still served, although the table changed.
$node->safe_psql('postgres', 'INSERT INTO small SELECT generate_series(501, 600)');
$node->restart;
is($node->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM small')}),
	'500', 'a cached count survives a restart');

my $slow = create_slow_table($node, 600);
is($node->safe_psql('postgres', "SELECT fast_count_refresh('$slow')"),
	'600', 'the slow query is cached');
$node->safe_psql('postgres', 'DELETE FROM wide WHERE id > 400');

# SIGKILL of a backend in the middle of refreshing it.
my $pid = kill_refresh_halfway($node, $slow);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server recovered from the killed backend');
ok($node->log_contains(qr/server process \(PID $pid\) was terminated by signal 9/),
	'the backend was killed mid-refresh');
is($node->safe_psql('postgres', "SELECT count FROM fast_count_entries WHERE query = '$slow'"),
	'600', 'the killed refresh left the previous count');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'the worker is back after crash recovery');

# SIGKILL of the worker in the middle of refreshing a registered query.
$node->safe_psql('postgres', "SELECT fast_count_register('$slow', '1 hour')");
$node->safe_psql('postgres', 'INSERT INTO wide SELECT generate_series(401, 500)');
$node->safe_psql('postgres', q{
	UPDATE fast_count.entries SET next_refresh_at = now() WHERE registered});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND state = 'active' AND query = 'fast_count: counting $slow'"),
	'pg_stat_activity shows the worker counting the slow query');
my $worker = worker_pid($node, 'postgres');
kill9_and_wait_for_restart($node, $worker);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server recovered from the killed worker');
is($node->safe_psql('postgres', "SELECT count FROM fast_count_entries WHERE query = '$slow'"),
	'600', 'the killed worker left the previous count');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND pid <> $worker"),
	'the worker is started again');
ok($node->poll_query_until('postgres',
		"SELECT count = 500 FROM fast_count_entries WHERE query = '$slow'"),
	'and refreshes the registered query to the right count');

$node->stop;
done_testing();
