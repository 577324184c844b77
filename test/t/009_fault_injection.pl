# A C++ exception (std::bad_alloc, as from a Boost container over palloc)
# at each crossing between C++ and PostgreSQL becomes an ERROR or a WARNING,
# never a crash: fast_count.inject_fault (superuser only, hidden) makes the
# named places throw. After each, the backend or the worker keeps working
# and the server log shows no process terminated by a signal.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_fast_count_node('fault', conf => "fast_count.log_level = log\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE items AS SELECT g AS id, g % 3 AS state FROM generate_series(1, 300) g;
	CREATE TABLE inbox (id int, unread boolean);
	INSERT INTO inbox SELECT g, g % 2 = 0 FROM generate_series(1, 100) g;
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM inbox WHERE unread', mode => 'exact'));
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'the worker runs');
my $worker = worker_pid($node, 'postgres');

# Runs sql in a new session with the fault armed, going on after errors;
# returns (psql's exit code, stdout, stderr).
sub with_fault
{
	my ($sites, $sql) = @_;
	my ($stdout, $stderr);
	my $ret = $node->psql('postgres', "SET fast_count.inject_fault = '$sites';\n$sql",
		stdout => \$stdout, stderr => \$stderr, on_error_stop => 0);
	return ($ret, $stdout, $stderr);
}

sub backend_still_works
{
	my ($what) = @_;
	is($node->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM items WHERE state = 1')}),
		'100', "$what: the next session counts");
}

# A misspelt site is refused, naming it, and arms nothing.
{
	my ($ret, $out, $err) = with_fault('allocater', 'SELECT 1');
	like($err, qr/ERROR:  invalid value for parameter "fast_count.inject_fault": "allocater"\nDETAIL:  Unknown fault injection site "allocater"\./,
		'an unknown site is refused with its name');
}

# --- in a backend ---
my ($ret, $out, $err) = with_fault('allocator', 'INSERT INTO inbox VALUES (1000, true)');
like($err, qr/ERROR:  out of memory in fast_count/, 'allocator: the exact trigger fails with an ERROR');
backend_still_works('allocator');
is($node->safe_psql('postgres', q{SELECT fast_count('SELECT * FROM inbox WHERE unread')}), '50',
	'allocator: the failed write left the exact count right');

for my $site ('pg_call', 'restricted_scope') {
	($ret, $out, $err) = with_fault($site,
		q{SELECT fast_count_refresh('SELECT * FROM items WHERE state = 2')});
	like($err, qr/ERROR:  out of memory in fast_count/, "$site: fast_count_refresh fails with an ERROR");
	# The same session goes on after the error (no dead exception frame).
	($ret, $out, $err) = with_fault($site, q{
		DO $$BEGIN PERFORM fast_count_refresh('SELECT * FROM items WHERE state = 2');
		EXCEPTION WHEN out_of_memory THEN RAISE NOTICE 'caught'; END$$;
		RESET fast_count.inject_fault;
		SELECT 1/0;
		SELECT fast_count_refresh('SELECT * FROM items WHERE state = 2');});
	like($err, qr/NOTICE:  caught/, "$site: the error is catchable in PL/pgSQL");
	like($err, qr/ERROR:  division by zero/, "$site: a later ERROR is an ordinary ERROR");
	is($out, '100', "$site: and the session still counts");
}

($ret, $out, $err) = with_fault('settle', q{
	SELECT fast_count._exact_settle(key) FROM fast_count.entries WHERE query = 'SELECT * FROM inbox WHERE unread';
	SELECT last_error FROM fast_count.entries WHERE query = 'SELECT * FROM inbox WHERE unread';});
is($ret, 0, 'settle: _exact_settle records the error instead of failing');
like($out, qr/out of memory in fast_count/, 'settle: the error is on the entry');

($ret, $out, $err) = with_fault('follow_text', 'ALTER TABLE inbox ADD COLUMN note text');
is($ret, 0, 'follow_text: the DDL succeeds');

($ret, $out, $err) = with_fault('callback', 'SELECT 1');
is($ret, 0, 'callback: the transaction commits');
like($err, qr/WARNING:  fast_count: at commit: out of memory in fast_count/,
	'callback: a WARNING at commit, not a PANIC');
backend_still_works('callback');

# --- in the worker ---
$node->safe_psql('postgres', q{
	SELECT fast_count_register('SELECT * FROM items WHERE state = 0', '1 second');
	SELECT fast_count_register('SELECT * FROM items WHERE id < 10', mode => 'exact');
});
ok($node->poll_query_until('postgres',
		"SELECT count = 100 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE state = 0'"),
	'worker: counted before the faults');

# A failed refresh or exact task alone: recorded on its entry, with a WARNING.
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres',
	"ALTER SYSTEM SET fast_count.inject_fault = 'worker_refresh,exact_task'; SELECT pg_reload_conf()");
$node->safe_psql('postgres', q{
	SELECT fast_count_register('SELECT * FROM items WHERE id < 5', mode => 'exact');
	INSERT INTO items SELECT g, 0 FROM generate_series(301, 310) g;
});
ok($node->wait_for_log(qr/WARNING:  fast_count: refresh of registered query failed: out of memory in fast_count/, $log_offset),
	'worker: a failed refresh is recorded, with a WARNING');
ok($node->wait_for_log(qr/WARNING:  fast_count: exact count cannot be kept now: out of memory in fast_count/, $log_offset),
	'worker: a failed exact task is recorded, with a WARNING');
ok($node->poll_query_until('postgres',
		"SELECT last_error = 'out of memory in fast_count' FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE id < 5'"),
	'worker: the error is on the entry');

# And when recording fails too.
$log_offset = -s $node->logfile;
$node->safe_psql('postgres',
	"ALTER SYSTEM SET fast_count.inject_fault = 'worker_refresh,worker_record,exact_task,exact_record'; SELECT pg_reload_conf()");
$node->safe_psql('postgres', q{
	SELECT fast_count_register('SELECT * FROM items WHERE id < 20', mode => 'exact');
	INSERT INTO items SELECT g, 0 FROM generate_series(311, 330) g;
});
ok($node->wait_for_log(qr/fast_count: refresh of registered query failed|ERROR:  out of memory in fast_count/, $log_offset),
	'worker: the injected failure is logged as an ERROR');
sleep 3;    # some cycles with every worker site failing
$node->safe_psql('postgres', 'ALTER SYSTEM RESET fast_count.inject_fault; SELECT pg_reload_conf()');
$node->safe_psql('postgres', q{
	SELECT fast_count_register('SELECT * FROM items WHERE id < 30', '1 second');
});
ok($node->poll_query_until('postgres',
		"SELECT count = 29 FROM fast_count_entries WHERE query = 'SELECT * FROM items WHERE id < 30'"),
	'worker: after the faults it goes on counting');
is(worker_pid($node, 'postgres'), $worker, 'worker: the same process, it never died');

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC/, 'no process crashed or panicked');
unlike($log, qr/fast_count worker.*exited with exit code/, 'the worker never exited');

$node->stop;
done_testing();
