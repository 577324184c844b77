# Grouped exact counts survive crashes in the middle of a fold: the fold of
# a grouped registration replaces, group by group, the rows of tens of
# thousands of groups in ONE transaction, so a crash (SIGKILL of the
# folding worker, or of the whole server) or an error between two groups
# leaves every row as it was. Also with writers in flight at the crash (their
# rows die with them) and a prepared transaction (its rows survive and count
# once it commits). The worker killed while it counts a new registration
# counts it again. After each, every group's count is exact and served
# from the groups' rows.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_fast_count_node('grouped_crash',
	conf => "restart_after_crash = on\nmax_prepared_transactions = 5\nfast_count.log_level = log\n"
	  # count(*) is the real count here; transparent() asks transparent mode.
	  . "fast_count.transparent = off\n");
$node->start;
my $groups = 30000;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION fast_count;
	CREATE TABLE shelf (id bigint, author_id int, hot boolean);
	INSERT INTO shelf SELECT g, CASE WHEN g % 101 = 0 THEN NULL ELSE g % $groups END, g % 3 = 0
	  FROM generate_series(1, 4 * $groups) g;
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM shelf', mode => 'exact',
	                                                    group_by => ARRAY['author_id']));
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM shelf WHERE hot', mode => 'exact',
	                                                    group_by => ARRAY['author_id']));
	-- One transaction per batch, each writing a delta row to every group
	-- it touches: rows come in over all the groups.
	-- (only_inserts: no row another transaction may hold.)
	CREATE PROCEDURE batches(n int, only_inserts boolean DEFAULT false) LANGUAGE plpgsql AS \$\$
	BEGIN
	  FOR i IN 1..n LOOP
	    INSERT INTO shelf SELECT 1000000 * i + g, (g * 7 + i) % $groups, (g + i) % 2 = 0
	      FROM generate_series(1, $groups / 2) g;
	    IF NOT only_inserts THEN
	      UPDATE shelf SET author_id = (author_id + 1) % $groups, hot = NOT hot
	       WHERE id BETWEEN 1000000 * i AND 1000000 * i + 2000;
	      DELETE FROM shelf WHERE id BETWEEN 1000000 * i + 3000 AND 1000000 * i + 3500;
	    END IF;
	    COMMIT;
	  END LOOP;
	END \$\$;
	CREATE FUNCTION transparent(q text) RETURNS bigint
	STABLE LANGUAGE plpgsql SET fast_count.transparent = exact AS \$\$
	DECLARE n bigint;
	BEGIN EXECUTE q INTO n; RETURN n; END \$\$;
	-- Waits until a process whose query is like one of patterns (the
	-- worker's, or a backend's) is busy and, when written, in the middle of
	-- a fold, that is has written (it has a transaction id); returns its pid.
	CREATE FUNCTION folding(patterns text[], timeout interval, written boolean DEFAULT true)
	RETURNS int LANGUAGE plpgsql AS \$\$
	DECLARE deadline timestamptz := clock_timestamp() + timeout; found int;
	BEGIN
	  LOOP
	    PERFORM pg_stat_clear_snapshot();
	    SELECT pid INTO found FROM pg_stat_activity
	     WHERE query LIKE ANY (patterns) AND state = 'active' AND (backend_xid IS NOT NULL OR NOT written)
	       AND pid <> pg_backend_pid();
	    IF found IS NOT NULL OR clock_timestamp() > deadline THEN RETURN found; END IF;
	    PERFORM pg_sleep(0.0005);
	  END LOOP;
	END \$\$;
});

my @queries = ('SELECT * FROM shelf', 'SELECT * FROM shelf WHERE hot');
sub all_exact
{
	my ($what) = @_;
	for my $q (@queries)
	{
		is($node->safe_psql('postgres', qq{
			SELECT (SELECT coalesce(string_agg(format('%s=%s', key, count), ',' ORDER BY key::text), '')
			          FROM fast_count_groups('$q'))
			     = (SELECT coalesce(string_agg(format('%s=%s', key, n), ',' ORDER BY key::text), '')
			          FROM (SELECT ARRAY[author_id::text] AS key, count(*) AS n FROM ($q) s GROUP BY author_id) s)}),
			't', "$what: every group of $q");
		my $where = $q =~ /WHERE (.*)/ ? "$1 AND" : '';
		is($node->safe_psql('postgres', qq{
			SELECT bool_and(fast_count(format('SELECT * FROM shelf WHERE $where author_id = %s', a))
			                = (SELECT count(*) FROM ($q) s WHERE author_id = a))
			   AND bool_and(transparent(format('SELECT count(*) FROM shelf WHERE $where author_id = %s', a))
			                = (SELECT count(*) FROM ($q) s WHERE author_id = a))
			   AND fast_count('SELECT * FROM shelf WHERE $where author_id IS NULL')
			       = (SELECT count(*) FROM ($q) s WHERE author_id IS NULL)
			FROM unnest(ARRAY[0, 1, 7, 4242, $groups - 1]) a}),
			't', "$what: single groups of $q, by fast_count() and transparent count(*)");
	}
	# Served from the groups' rows: no scan of the table.
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM fast_count_groups('SELECT * FROM shelf WHERE hot');
		SELECT fast_count('SELECT * FROM shelf WHERE author_id = 7');
		SELECT transparent('SELECT count(*) FROM shelf WHERE hot AND author_id = 8');
		SELECT pg_stat_get_xact_numscans('shelf'::regclass);
	}) =~ s/.*\n//sr, '0', "$what: served from the groups");
}

sub delta_rows
{
	return $node->safe_psql('postgres', 'SELECT count(*) FROM fast_count.exact_deltas');
}

all_exact('before any crash');

# 1. SIGKILL of the worker in the middle of a fold of many groups, while
#    batches commit.
my $committer = $node->background_psql('postgres', on_error_stop => 0);
$committer->query_until(qr/committing/,
	"\\echo committing\nSET synchronous_commit = off;\nCALL batches(1000000);\n");
my $worker = $node->safe_psql('postgres', "SELECT folding(ARRAY['fast_count: folding%'], '120 s')");
ok($worker ne '', 'the worker is folding');
kill9_and_wait_for_restart($node, $worker) if $worker ne '';
eval { $committer->quit; };
ok($node->log_contains(qr/\(PID $worker\) was terminated by signal 9/), 'the worker was killed while folding');
all_exact('after the worker was killed in a fold');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'the worker is started again');
ok($node->poll_query_until('postgres',
		"SELECT count(*) <= 2 * $groups + 10 FROM fast_count.exact_deltas"),
	'and folds the rows');
all_exact('after the new worker folded');

# 2. An error between two groups of a fold (fast_count.inject_fault): the
#    fold's transaction rolls back, nothing is lost.
# (The worker folds every second: try again when it folded first.)
my ($out, $err) = ('', '');
for my $try (1 .. 10)
{
	$node->psql('postgres', q{
		CALL batches(2);
		SET fast_count.inject_fault = 'fold_group';
		SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE query = 'SELECT * FROM shelf';
	}, stdout => \$out, stderr => \$err, on_error_stop => 1);
	last if $err =~ /ERROR/;
}
like($err, qr/ERROR:  out of memory in fast_count/, 'a fold failing between two groups raises an ERROR');
all_exact('after a fold failed between two groups');

# 3. The whole server stopped (immediate: no shutdown checkpoint, crash
#    recovery at start) while a backend folds, with a writer in flight over
#    many groups and a prepared transaction.
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO shelf SELECT 5000000 + g, g % 1000, true FROM generate_series(1, 3000) g;
	UPDATE shelf SET author_id = NULL WHERE author_id = 7;
	PREPARE TRANSACTION 'grouped';
});
my $writer = $node->background_psql('postgres', on_error_stop => 0);
$writer->query_safe(q{
	BEGIN;
	INSERT INTO shelf SELECT 6000000 + g, g % 5000, g % 2 = 0 FROM generate_series(1, 20000) g;
	UPDATE shelf SET author_id = 1, hot = NOT hot WHERE author_id BETWEEN 100 AND 200;
	DELETE FROM shelf WHERE author_id = 4242;
});
my $folder = $node->background_psql('postgres', on_error_stop => 0);
$folder->query_until(qr/folding/,
	"\\echo folding\nCALL batches(4, only_inserts => true);\nSELECT fast_count._exact_fold(key) FROM fast_count_entries;\n");
# (Whoever folds the batches' rows, this backend or the worker.)
my $fold_pid = $node->safe_psql('postgres',
	"SELECT folding(ARRAY['%fast_count._exact_fold%', 'fast_count: folding%'], '60 s')");
ok($fold_pid ne '', 'a fold is in progress');
$node->stop('immediate');
eval { $folder->quit; };
eval { $writer->quit; };
$node->start;
ok($node->log_contains(qr/database system was interrupted|was not properly shut down/),
	'the server went through crash recovery');
is($node->safe_psql('postgres', "SELECT gid FROM pg_prepared_xacts"), 'grouped',
	'the prepared transaction survived');
all_exact('after the crash, with the prepared transaction in flight');
$node->safe_psql('postgres', "COMMIT PREPARED 'grouped'");
all_exact('after COMMIT PREPARED');
$node->safe_psql('postgres', q{
	SELECT fast_count._exact_fold(key) FROM fast_count_entries;
});
all_exact('after the next fold');
cmp_ok(delta_rows(), '<=', 2 * $groups + 10, 'folded to a row per group');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM fast_count_entries WHERE mode = 'exact' AND exact_state = 'ready'"),
	'2', 'both grouped entries are ready');

# 4. SIGKILL of the worker while it counts a new grouped registration
#    (backfill), with writers busy: it counts again after the restart.
push @queries, 'SELECT * FROM shelf WHERE NOT hot';
$committer = $node->background_psql('postgres', on_error_stop => 0);
$committer->query_until(qr/committing/,
	"\\echo committing\nSET synchronous_commit = off;\nCALL batches(1000000);\n");
$node->safe_psql('postgres', q{
	SELECT fast_count_register('SELECT * FROM shelf WHERE NOT hot', mode => 'exact', group_by => ARRAY['author_id']);
});
$worker = $node->safe_psql('postgres',
	"SELECT folding(ARRAY['fast_count: counting an exact query%'], '60 s', false)");
ok($worker ne '', 'the worker counts the new registration');
kill9_and_wait_for_restart($node, $worker) if $worker ne '';
eval { $committer->quit; };
ok($node->log_contains(qr/\(PID $worker\) was terminated by signal 9/), 'the worker was killed while counting');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 3 FROM fast_count_entries WHERE mode = 'exact' AND exact_state = 'ready'"),
	'the new worker counts it again');
all_exact('after the worker was killed in a backfill');

$node->stop;
done_testing();
