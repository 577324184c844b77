# Exact reads from shared memory (exact_fastpath), randomized: 8 pgbench
# writers insert, update, delete, roll back, use savepoints and two-phase
# commit (PREPARE TRANSACTION, then COMMIT or ROLLBACK PREPARED), now and
# then one TRUNCATEs, while checkers compare fast_count(q) with count(*) of
# q in ONE statement (READ COMMITTED, and twice in one REPEATABLE READ
# transaction), and a transparent count(*) with the same statement run with
# transparent mode off in one REPEATABLE READ snapshot. The checkers record
# how many of their reads were served from shared memory: some must be.
# Bounded time; the seed is printed (FC_SOAK_SEED replays the choices).
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{FC_SOAK_SECONDS} // 20;
my $seed = $ENV{FC_SOAK_SEED} // (time() % 1000000);
diag("exact fast-path soak: seed $seed, $seconds s (FC_SOAK_SEED=$seed replays the scripts' choices)");

my $node = new_fast_count_node('fastpath',
	conf => "max_connections = 40\nmax_prepared_transactions = 20\n"
	  . "deadlock_timeout = 100ms\nlog_min_messages = warning\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE FUNCTION fp_fast_reads() RETURNS bigint
	  AS 'fast_count', 'fast_count_exact_fast_reads' LANGUAGE C;
	CREATE TABLE fp (id int, k int, flag boolean);
	CREATE INDEX ON fp (id);
	INSERT INTO fp SELECT g, g % 10, g % 3 = 0 FROM generate_series(1, 5000) g;
	CREATE TABLE fp_mismatch (at timestamptz, what text, q text, fast bigint, count_star bigint);
	CREATE TABLE fp_served (at timestamptz, reads bigint);
});

my @queries = ('SELECT * FROM fp', 'SELECT * FROM fp WHERE flag AND k < 5');
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
	'write.sql' => q{
\set id random(1, 8000)
\set op random(1, 1000)
\set k random(0, 9)
\set end random(1, 10)
\if :op <= 2
TRUNCATE fp;
INSERT INTO fp SELECT g, g % 10, g % 3 = 0 FROM generate_series(1, 300) g;
\else
BEGIN;
\if :op <= 400
INSERT INTO fp VALUES (:id, :k, :k % 2 = 0);
\elif :op <= 650
UPDATE fp SET k = :k, flag = NOT flag WHERE id BETWEEN :id AND :id + 10;
\elif :op <= 850
DELETE FROM fp WHERE id BETWEEN :id AND :id + 5;
\else
INSERT INTO fp SELECT g, :k, true FROM generate_series(:id, :id + 3) g;
SAVEPOINT s;
DELETE FROM fp WHERE id BETWEEN :id AND :id + 30;
ROLLBACK TO SAVEPOINT s;
\endif
\if :end <= 2
ROLLBACK;
\else
COMMIT;
\endif
\endif
},
	'prepared.sql' => q{
\set id random(1, 8000)
\set k random(0, 9)
\set end random(1, 3)
BEGIN;
INSERT INTO fp VALUES (:id, :k, true), (:id + 1, :k, false);
DELETE FROM fp WHERE id BETWEEN :id + 100 AND :id + 103;
PREPARE TRANSACTION 'fp-:client_id';
\sleep 5 ms
\if :end = 1
ROLLBACK PREPARED 'fp-:client_id';
\else
COMMIT PREPARED 'fp-:client_id';
\endif
},
	'check.sql' => qq{
\\set rr random(1, 3)
\\if :rr = 1
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO fp_mismatch SELECT now(), 'repeatable read', * FROM (
  $checks
) s(q, fc, cs) WHERE fc IS DISTINCT FROM cs;
SELECT pg_sleep(0.01);
INSERT INTO fp_mismatch SELECT now(), 'repeatable read, later', * FROM (
  $checks
) s(q, fc, cs) WHERE fc IS DISTINCT FROM cs;
COMMIT;
\\elif :rr = 2
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) AS transparent FROM fp WHERE flag AND k < 5 \\gset
SET LOCAL fast_count.transparent = off;
SELECT count(*) AS plain FROM fp WHERE flag AND k < 5 \\gset
INSERT INTO fp_mismatch SELECT now(), 'transparent', 'count(*)', :transparent, :plain
  WHERE :transparent <> :plain;
COMMIT;
\\else
INSERT INTO fp_mismatch SELECT now(), 'read committed', * FROM (
  $checks
) s(q, fc, cs) WHERE fc IS DISTINCT FROM cs;
\\endif
INSERT INTO fp_served VALUES (now(), fp_fast_reads());
},
);
my %path = write_pgbench_scripts($dir, \%scripts);
my @start = (
	[ writers => '-c', '7', '-j', '2', '--max-tries=20', '-f', $path{'write.sql'} ],
	[ prepared => '-c', '1', '-j', '1', '-f', $path{'prepared.sql'} ],
	[ checkers => '-c', '3', '-j', '1', '-f', $path{'check.sql'} ],
);
run_pgbench_clients($node, $seed, $seconds, @start);

is($node->safe_psql('postgres', 'SELECT count(*) FROM fp_mismatch'), '0',
	"fast_count() = count(*), and transparent = plain count(*), in every check")
  or diag($node->safe_psql('postgres', 'SELECT * FROM fp_mismatch ORDER BY at LIMIT 20'));
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0',
	'no prepared transaction left');
my $served = $node->safe_psql('postgres', 'SELECT max(reads) FROM fp_served');
note("reads served from shared memory by one checker connection: $served");
cmp_ok($served, '>', 0, 'checkers were served from shared memory');

# Quiet: still exact, and now served from shared memory.
for my $q (@queries)
{
	is($node->safe_psql('postgres',
			"SELECT fast_count(\$\$$q\$\$) = count(*) FROM ($q) s; "
			  . "SELECT fast_count(\$\$$q\$\$) = count(*) FROM ($q) s; "
			  . "SELECT fast_count(\$\$$q\$\$) = count(*), fp_fast_reads() > 0 FROM ($q) s"),
		"t\nt\nt|t", "exact after the soak, from shared memory: $q");
}

$node->stop;
done_testing();
