# Exact mode survives crashes: delta rows are written in the writing
# transaction, so a backend SIGKILLed in the middle of its writes leaves
# nothing behind, and a worker SIGKILLed in the middle of a fold leaves the
# rows it was folding. After crash recovery every count is exact.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

# The count(*) compared with is the real one, not transparent mode's.
my $node = new_fast_count_node('exact_crash', conf => "restart_after_crash = on\nfast_count.transparent = off\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE ledger (id bigint, amount int);
	INSERT INTO ledger SELECT g, g % 100 FROM generate_series(1, 10000) g;
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM ledger', mode => 'exact'));
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM ledger WHERE amount >= 50', mode => 'exact'));
	CREATE PROCEDURE many_commits(n int) LANGUAGE plpgsql AS $$
	BEGIN
	  FOR i IN 1..n LOOP
	    INSERT INTO ledger VALUES (100000 + i, i % 100);
	    COMMIT;
	  END LOOP;
	END $$;
	-- Waits until the worker is folding and returns its pid.
	CREATE FUNCTION folding_worker(timeout interval) RETURNS int LANGUAGE plpgsql AS $$
	DECLARE deadline timestamptz := clock_timestamp() + timeout; found int;
	BEGIN
	  LOOP
	    PERFORM pg_stat_clear_snapshot();
	    SELECT pid INTO found FROM pg_stat_activity
	     WHERE backend_type = 'fast_count worker' AND query LIKE 'fast_count: folding%' AND state = 'active';
	    IF found IS NOT NULL OR clock_timestamp() > deadline THEN RETURN found; END IF;
	    PERFORM pg_sleep(0.0005);
	  END LOOP;
	END $$;
});

my @queries = ('SELECT * FROM ledger', 'SELECT * FROM ledger WHERE amount >= 50');
sub all_exact
{
	my ($what) = @_;
	for my $q (@queries)
	{
		is($node->safe_psql('postgres', "SELECT fast_count('$q') = count(*) FROM ($q) s"),
			't', "$what: $q");
	}
}
all_exact('before any crash');

# 1. SIGKILL of a backend in the middle of a big write, while other writers
#    commit small transactions.
my $dir = PostgreSQL::Test::Utils::tempdir;
open(my $fh, '>', "$dir/writer.sql") or die;
print $fh "\\set id random(1, 1000000)\nINSERT INTO ledger VALUES (:id, :id % 100);\nDELETE FROM ledger WHERE id = :id - 7;\n";
close($fh);
my ($out, $err) = ('', '');
my $writers = IPC::Run::start(
	[ 'pgbench', '-h', $node->host, '-p', $node->port, '-n', '-c', '4', '-T', '6',
	  '-f', "$dir/writer.sql", 'postgres' ],
	'>', \$out, '2>', \$err);
my $session = $node->background_psql('postgres', on_error_stop => 0);
$session->query_until(qr/writing/,
	"\\echo writing\nBEGIN;\nINSERT INTO ledger SELECT g, g % 100 FROM generate_series(1, 3000000) g;\n");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'INSERT INTO ledger SELECT g%' AND state = 'active'"),
	'a big write is running');
sleep 1;
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query LIKE 'INSERT INTO ledger SELECT g%' AND state = 'active'");
kill 'KILL', $pid;
eval { $session->quit; };
$writers->finish;
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server recovered from the killed backend');
ok($node->log_contains(qr/server process \(PID $pid\) was terminated by signal 9/),
	'the backend was killed in the middle of its write');
all_exact('after a writer was killed');

# 2. SIGKILL of the worker in the middle of a fold: a procedure commits
#    one row per transaction (a delta row each) while the worker folds them
#    every second; kill it while it is folding.
my $committer = $node->background_psql('postgres', on_error_stop => 0);
$committer->query_until(qr/committing/,
	"\\echo committing\nSET synchronous_commit = off;\nCALL many_commits(1000000);\n");
ok($node->poll_query_until('postgres', 'SELECT count(*) > 1000 FROM fast_count.exact_deltas'),
	'delta rows are coming in');
my $worker = $node->safe_psql('postgres', "SELECT folding_worker('60 s')");
ok($worker ne '', 'the worker is folding');
kill 'KILL', $worker if $worker ne '';
eval { $committer->quit; };
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server recovered from the killed worker');
ok($node->log_contains(qr/\(PID $worker\) was terminated by signal 9/), 'the worker was killed while folding');
all_exact('after the worker was killed in a fold');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker' AND pid <> $worker"),
	'the worker is started again');
ok($node->poll_query_until('postgres', 'SELECT count(*) <= 4 FROM fast_count.exact_deltas'),
	'and folds the rows');
all_exact('after the new worker folded');

# 3. A restart: the counts are durable.
$node->safe_psql('postgres', 'INSERT INTO ledger SELECT g, 77 FROM generate_series(1, 500) g');
$node->restart;
all_exact('after a restart');

$node->stop;
done_testing();
