# Exact mode, randomized: concurrent pgbench writers insert, update (moving
# rows in and out of predicates and between partitions), delete, roll back,
# roll back to savepoints and now and then TRUNCATE a partition, while a
# checker asserts fast_count(q) = count(*) of q in ONE statement (one
# snapshot), in READ COMMITTED and REPEATABLE READ, and a folder folds the
# delta rows as fast as it can (the worker folds too, every second).
# Bounded time; the seed is printed (set FC_SOAK_SEED to replay it).
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{FC_SOAK_SECONDS} // 30;
my $seed = $ENV{FC_SOAK_SEED} // (time() % 1000000);
diag("exact-mode soak: seed $seed, $seconds s (FC_SOAK_SEED=$seed replays the scripts' choices)");

my $node = new_fast_count_node('soak',
	conf => "max_connections = 40\ndeadlock_timeout = 100ms\nlog_min_messages = warning\n"
	  # the count(*) compared with is the real one, not transparent mode's
	  . "fast_count.transparent = off\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE soak_plain (id int, k int, flag boolean);
	CREATE INDEX ON soak_plain (id);
	INSERT INTO soak_plain SELECT g, g % 10, g % 3 = 0 FROM generate_series(1, 5000) g;
	CREATE TABLE soak_part (id int, k int, flag boolean) PARTITION BY RANGE (k);
	CREATE TABLE soak_part_lo PARTITION OF soak_part FOR VALUES FROM (MINVALUE) TO (5);
	CREATE TABLE soak_part_hi (flag boolean, id int, k int);
	ALTER TABLE soak_part ATTACH PARTITION soak_part_hi FOR VALUES FROM (5) TO (MAXVALUE);
	CREATE INDEX ON soak_part (id);
	INSERT INTO soak_part SELECT g, g % 10, g % 4 = 0 FROM generate_series(1, 5000) g;
	CREATE TABLE soak_mismatch (at timestamptz, isolation text, q text, fast_count bigint, count_star bigint);
});

my @queries = (
	'SELECT * FROM soak_plain',
	'SELECT * FROM soak_plain WHERE flag AND k < 5',
	'SELECT * FROM soak_part',
	'SELECT * FROM soak_part WHERE k % 3 = 1 OR NOT flag',
);
for my $q (@queries)
{
	is($node->safe_psql('postgres',
			"SELECT fast_count._exact_settle(fast_count_register(\$\$$q\$\$, mode => 'exact'))"),
		'ready', "registered and counted: $q");
}

my $dir = PostgreSQL::Test::Utils::tempdir;
my $checks = join("\n  UNION ALL ",
	map { "SELECT \$\$$_\$\$, fast_count(\$\$$_\$\$), (SELECT count(*) FROM ($_) s)" } @queries);
my %scripts = (
	'plain.sql' => q{
\set id random(1, 8000)
\set op random(1, 100)
\set k random(0, 9)
\set end random(1, 10)
BEGIN;
\if :op <= 35
INSERT INTO soak_plain VALUES (:id, :k, :k % 2 = 0);
\elif :op <= 60
UPDATE soak_plain SET k = :k, flag = NOT flag WHERE id BETWEEN :id AND :id + 10;
\elif :op <= 80
DELETE FROM soak_plain WHERE id BETWEEN :id AND :id + 5;
\elif :op <= 90
INSERT INTO soak_plain SELECT g, :k, true FROM generate_series(:id, :id + 3) g;
SAVEPOINT s;
DELETE FROM soak_plain WHERE id BETWEEN :id AND :id + 30;
ROLLBACK TO SAVEPOINT s;
UPDATE soak_plain SET flag = true WHERE id = :id;
\else
SAVEPOINT a;
UPDATE soak_plain SET k = (k + 3) % 10 WHERE id BETWEEN :id AND :id + 4;
SAVEPOINT b;
INSERT INTO soak_plain VALUES (:id, 1, true);
RELEASE SAVEPOINT b;
\if :k < 3
ROLLBACK TO SAVEPOINT a;
\endif
\endif
\if :end <= 2
ROLLBACK;
\else
COMMIT;
\endif
},
	'part.sql' => q{
\set id random(1, 8000)
\set op random(1, 1000)
\set k random(0, 9)
\set end random(1, 10)
\if :op <= 2
TRUNCATE soak_part_hi;
\else
BEGIN;
\if :op <= 350
INSERT INTO soak_part VALUES (:id, :k, :k % 3 = 0);
\elif :op <= 600
UPDATE soak_part SET k = :k, flag = NOT flag WHERE id BETWEEN :id AND :id + 10;
\elif :op <= 750
DELETE FROM soak_part WHERE id BETWEEN :id AND :id + 5;
\elif :op <= 850
INSERT INTO soak_part_lo VALUES (:id, :k % 5, true);
UPDATE soak_part_hi SET flag = NOT flag WHERE id BETWEEN :id AND :id + 10;
\else
SAVEPOINT s;
UPDATE soak_part SET k = 9 - k WHERE id BETWEEN :id AND :id + 20;
\if :k < 5
ROLLBACK TO SAVEPOINT s;
\endif
DELETE FROM soak_part_lo WHERE id = :id;
\endif
\if :end <= 2
ROLLBACK;
\else
COMMIT;
\endif
\endif
},
	'check.sql' => qq{
\\set rr random(1, 3)
\\if :rr = 1
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO soak_mismatch SELECT now(), 'repeatable read', * FROM (
  $checks
) s(q, fc, cs) WHERE fc IS DISTINCT FROM cs;
SELECT pg_sleep(0.02);
INSERT INTO soak_mismatch SELECT now(), 'repeatable read, later', * FROM (
  $checks
) s(q, fc, cs) WHERE fc IS DISTINCT FROM cs;
COMMIT;
\\else
INSERT INTO soak_mismatch SELECT now(), 'read committed', * FROM (
  $checks
) s(q, fc, cs) WHERE fc IS DISTINCT FROM cs;
\\endif
},
	'fold.sql' => q{
SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE mode = 'exact' AND exact_state = 'ready';
\sleep 20 ms
},
);
my %path = write_pgbench_scripts($dir, \%scripts);
my @start = (
	[ writers => '-c', '6', '-j', '2', '--max-tries=20', '-f', "$path{'plain.sql'}\@1", '-f', "$path{'part.sql'}\@1" ],
	[ checker => '-c', '2', '-j', '1', '-f', $path{'check.sql'} ],
	[ folder => '-c', '1', '-j', '1', '-f', $path{'fold.sql'} ],
);
run_pgbench_clients($node, $seed, $seconds, @start);

is($node->safe_psql('postgres', 'SELECT count(*) FROM soak_mismatch'), '0',
	"fast_count() = count(*) in every one of the checker's statements")
  or diag($node->safe_psql('postgres', 'SELECT * FROM soak_mismatch ORDER BY at LIMIT 20'));

# Quiet now: counted again after partition TRUNCATEs, folded, still exact.
$node->safe_psql('postgres', q{
	SELECT fast_count._exact_settle(key) FROM fast_count_entries WHERE mode = 'exact';
	SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE mode = 'exact';
});
for my $q (@queries)
{
	is($node->safe_psql('postgres', "SELECT fast_count(\$\$$q\$\$) = count(*) FROM ($q) s"),
		't', "exact after the soak: $q");
}
is($node->safe_psql('postgres',
		"SELECT count(*) FROM fast_count_entries WHERE mode = 'exact' AND exact_state = 'ready'"),
	scalar(@queries), 'every exact entry is ready');
cmp_ok($node->safe_psql('postgres',
		"SELECT n_tup_del FROM pg_stat_user_tables WHERE relid = 'fast_count.exact_deltas'::regclass"),
	'>', 0, 'delta rows were folded');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM fast_count.exact_deltas'),
	'<=', 2 * scalar(@queries), 'folded down to a row or two per query');

$node->stop;
done_testing();
