# Grouped exact counts, randomized: concurrent pgbench writers insert,
# update (moving rows between groups, into and out of the predicate, into
# and out of the NULL group, between partitions), delete, roll back, roll
# back to savepoints and now and then TRUNCATE a partition, some of them all
# on one group, others spread over a few or two thousand groups, while a
# checker asserts in ONE statement (one snapshot) that fast_count_groups()
# equals the GROUP BY count and that fast_count() and transparent count(*)
# of single groups, the NULL group, IN lists and $n parameters equal the
# real count(*) (transparent mode off), in READ COMMITTED and
# REPEATABLE READ, and a folder folds as fast as it can (the worker folds
# too). Some of the checker's group reads must have been served from the
# groups' shared-memory mirrors. Bounded time; the seed is printed
# (FC_SOAK_SEED replays it).
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{FC_SOAK_SECONDS} // 30;
my $seed = $ENV{FC_SOAK_SEED} // (time() % 1000000);
diag("grouped soak: seed $seed, $seconds s (FC_SOAK_SEED=$seed replays the scripts' choices)");

my $node = new_fast_count_node('grouped_soak',
	conf => "max_connections = 40\ndeadlock_timeout = 100ms\nlog_min_messages = warning\n"
	  # count(*) is the real count here; gs_transparent() asks transparent mode.
	  . "fast_count.transparent = off\n"
	  # autovacuum processes exact_deltas (and invalidates its relcache entry) often
	  . "autovacuum_naptime = 1\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE gs_book (id int, author_id int, status text, bucket int, hot boolean);
	CREATE INDEX ON gs_book (id);
	INSERT INTO gs_book
	  SELECT g, CASE WHEN g % 11 = 0 THEN NULL ELSE g % 6 END, (ARRAY['open', 'closed', 'draft'])[g % 3 + 1],
	         CASE WHEN g % 13 = 0 THEN NULL ELSE g % 2000 END, g % 2 = 0
	  FROM generate_series(1, 6000) g;
	CREATE TABLE gs_part (id int, author_id int, k int) PARTITION BY RANGE (k);
	CREATE TABLE gs_part_lo PARTITION OF gs_part FOR VALUES FROM (MINVALUE) TO (5);
	-- Its columns in another order: the group's bytes must not depend on it.
	CREATE TABLE gs_part_hi (k int, author_id int, id int);
	ALTER TABLE gs_part ATTACH PARTITION gs_part_hi FOR VALUES FROM (5) TO (MAXVALUE);
	CREATE INDEX ON gs_part (id);
	INSERT INTO gs_part SELECT g, nullif(g % 7, 6), g % 10 FROM generate_series(1, 4000) g;
	CREATE TABLE gs_mismatch (at timestamptz, isolation text, what text, fast text, real text);
	-- Reads a checker connection served from the groups' shared-memory mirrors.
	CREATE FUNCTION gs_fast_reads() RETURNS bigint
	  AS 'fast_count', 'fast_count_exact_fast_reads' LANGUAGE C;
	CREATE TABLE gs_served (at timestamptz, reads bigint);
	-- count(*) of a statement as transparent mode answers it ($1, $2 bound
	-- to params), under the caller's snapshot.
	CREATE FUNCTION gs_transparent(q text, params text[] DEFAULT NULL) RETURNS bigint
	STABLE LANGUAGE plpgsql SET fast_count.transparent = exact AS $$
	DECLARE n bigint;
	BEGIN
	  IF params IS NULL THEN EXECUTE q INTO n; ELSE EXECUTE q INTO n USING params[1]::int, params[2]; END IF;
	  RETURN n;
	END $$;
});

# [query, group columns, the GROUP BY's key expression]
my @registrations = (
	[ 'SELECT * FROM gs_book', [ 'author_id' ], 'ARRAY[author_id::text]' ],
	[ 'SELECT * FROM gs_book WHERE hot', [ 'author_id', 'status' ], 'ARRAY[author_id::text, status]' ],
	[ 'SELECT * FROM gs_book WHERE bucket % 3 <> 1 OR bucket IS NULL', [ 'bucket' ], 'ARRAY[bucket::text]' ],
	[ 'SELECT * FROM gs_part WHERE k <> 4', [ 'author_id' ], 'ARRAY[author_id::text]' ],
);
for my $r (@registrations)
{
	my ($q, $columns) = @$r;
	my $array = "ARRAY[" . join(', ', map { "'$_'" } @$columns) . "]";
	is($node->safe_psql('postgres',
			"SELECT fast_count._exact_settle(fast_count_register(\$\$$q\$\$, mode => 'exact', group_by => $array))"),
		'ready', "registered and counted: $q by @$columns");
}

my @fast;  # the fast side of every check

sub groups_check
{
	my ($q, $columns, $key) = @_;
	my $array = "ARRAY[" . join(', ', map { "'$_'" } @$columns) . "]";
	my $cols = join(', ', @$columns);
	push @fast, "(SELECT count(*) FROM fast_count_groups(\$q\$$q\$q\$, group_by => $array))";
	return "SELECT 'groups of $q by $cols',
	  (SELECT coalesce(string_agg(format('%s=%s', key, count), ',' ORDER BY key::text), '')
	     FROM fast_count_groups(\$q\$$q\$q\$, group_by => $array)),
	  (SELECT coalesce(string_agg(format('%s=%s', key, n), ',' ORDER BY key::text), '')
	     FROM (SELECT $key AS key, count(*) AS n FROM ($q) s GROUP BY $cols) s)";
}

# One group's count against count(*) (the pgbench variables choose it).
sub one_check
{
	my ($what, $q, @params) = @_;
	my $count = $q;
	my $i = 0;
	for my $p (@params)
	{
		$i++;
		$count =~ s/\$$i\b/'$p'/g;
	}
	my $fast = @params
	  ? "fast_count(\$q\$$q\$q\$, ARRAY[" . join(', ', map { "'$_'" } @params) . "])"
	  : "fast_count(\$q\$$q\$q\$)";
	push @fast, $fast;
	(my $statement = $q) =~ s/^SELECT \*/SELECT count(*)/;
	my $transparent = @params
	  ? "gs_transparent(\$q\$$statement\$q\$, ARRAY[" . join(', ', map { "'$_'" } @params) . "])"
	  : "gs_transparent(\$q\$$statement\$q\$)";
	push @fast, $transparent;
	return "SELECT '$what', ($fast)::text, (SELECT count(*) FROM ($count) s)::text
	  UNION ALL SELECT '$what, transparent', ($transparent)::text, (SELECT count(*) FROM ($count) s)::text";
}

my @checks = (
	(map { groups_check(@$_) } @registrations),
	one_check('one author', 'SELECT * FROM gs_book WHERE author_id = :a'),
	one_check('one author, a bigint', 'SELECT * FROM gs_book WHERE author_id = :a::bigint'),
	one_check('NULL author', 'SELECT * FROM gs_book WHERE author_id IS NULL'),
	one_check('authors in a list', 'SELECT * FROM gs_book WHERE author_id IN (:a, :b, 9)'),
	one_check('author and status by parameters',
		'SELECT * FROM gs_book WHERE hot AND author_id = $1 AND status = $2', ':a', 'open'),
	one_check('NULL author, one status', "SELECT * FROM gs_book WHERE status = 'draft' AND hot AND author_id IS NULL"),
	one_check('one bucket', 'SELECT * FROM gs_book WHERE (bucket % 3 <> 1 OR bucket IS NULL) AND bucket = :bucket'),
	one_check('buckets in a list',
		'SELECT * FROM gs_book WHERE (bucket % 3 <> 1 OR bucket IS NULL) AND bucket IN (:bucket, :bucket + 1, :bucket1 + 2)'),
	one_check('partitioned, one author', 'SELECT * FROM gs_part WHERE k <> 4 AND author_id = :a'),
	one_check('partitioned, NULL author', 'SELECT * FROM gs_part WHERE author_id IS NULL AND k <> 4'),
);
my $checks = join("\n  UNION ALL ", @checks);

my $dir = PostgreSQL::Test::Utils::tempdir;
my %scripts = (
	# Spread over the groups: few authors, two thousand buckets.
	'spread.sql' => q{
\set id random(1, 9000)
\set op random(1, 100)
\set a random(0, 6)
\set bucket random(0, 2100)
\set end random(1, 10)
BEGIN;
\if :op <= 30
INSERT INTO gs_book VALUES (:id, nullif(:a, 6), (ARRAY['open', 'closed', 'draft'])[:id % 3 + 1], nullif(:bucket, 2100), :id % 2 = 0);
\elif :op <= 50
UPDATE gs_book SET author_id = nullif(:a, 6), bucket = (bucket + :bucket) % 2000 WHERE id BETWEEN :id AND :id + 8;
\elif :op <= 60
UPDATE gs_book SET hot = NOT hot, status = CASE status WHEN 'open' THEN 'closed' ELSE 'open' END WHERE id BETWEEN :id AND :id + 8;
\elif :op <= 75
DELETE FROM gs_book WHERE id BETWEEN :id AND :id + 4;
\elif :op <= 85
INSERT INTO gs_book SELECT g, g % 6, 'draft', g % 2000, true FROM generate_series(:id, :id + 30) g;
SAVEPOINT s;
UPDATE gs_book SET author_id = NULL, bucket = NULL WHERE id BETWEEN :id AND :id + 40;
ROLLBACK TO SAVEPOINT s;
UPDATE gs_book SET bucket = bucket + 1 WHERE id = :id;
\else
SAVEPOINT a;
UPDATE gs_book SET author_id = (coalesce(author_id, 0) + 1) % 6 WHERE id BETWEEN :id AND :id + 5;
SAVEPOINT b;
DELETE FROM gs_book WHERE id = :id + 1;
RELEASE SAVEPOINT b;
\if :a < 3
ROLLBACK TO SAVEPOINT a;
\endif
\endif
\if :end <= 2
ROLLBACK;
\else
COMMIT;
\endif
},
	# Every writer on one group (author 1), as the per-author counter's hot row.
	'one_group.sql' => q{
\set id random(9001, 12000)
\set op random(1, 100)
\set end random(1, 10)
BEGIN;
\if :op <= 50
INSERT INTO gs_book VALUES (:id, 1, 'open', :id % 2000, true);
\elif :op <= 70
UPDATE gs_book SET hot = NOT hot WHERE author_id = 1 AND id BETWEEN :id AND :id + 20;
\elif :op <= 85
DELETE FROM gs_book WHERE author_id = 1 AND id BETWEEN :id AND :id + 3;
\else
INSERT INTO gs_book VALUES (:id, 1, 'open', 7, true);
SAVEPOINT s;
INSERT INTO gs_book VALUES (:id, 1, 'open', 7, true);
ROLLBACK TO SAVEPOINT s;
\endif
\if :end <= 1
ROLLBACK;
\else
COMMIT;
\endif
},
	'part.sql' => q{
\set id random(1, 6000)
\set op random(1, 1000)
\set a random(0, 7)
\set k random(0, 9)
\set end random(1, 10)
\if :op <= 3
TRUNCATE gs_part_hi;
\else
BEGIN;
\if :op <= 350
INSERT INTO gs_part VALUES (:id, nullif(:a, 7), :k);
\elif :op <= 600
UPDATE gs_part SET k = :k, author_id = CASE WHEN author_id IS NULL THEN :a ELSE nullif(:a, 7) END WHERE id BETWEEN :id AND :id + 10;
\elif :op <= 750
DELETE FROM gs_part WHERE id BETWEEN :id AND :id + 5;
\elif :op <= 850
INSERT INTO gs_part_lo VALUES (:id, :a, :k % 5);
UPDATE gs_part_hi SET author_id = :a WHERE id BETWEEN :id AND :id + 10;
\else
SAVEPOINT s;
UPDATE gs_part SET k = 9 - k WHERE id BETWEEN :id AND :id + 20;
\if :k < 5
ROLLBACK TO SAVEPOINT s;
\endif
DELETE FROM gs_part_lo WHERE id = :id;
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
\\set a random(0, 6)
\\set b random(0, 6)
\\set bucket random(0, 2000)
\\set bucket1 :bucket + 1
\\if :rr = 1
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO gs_mismatch SELECT now(), 'repeatable read', * FROM (
  $checks
) s(what, fast, real) WHERE fast IS DISTINCT FROM real;
SELECT pg_sleep(0.02);
INSERT INTO gs_mismatch SELECT now(), 'repeatable read, later', * FROM (
  $checks
) s(what, fast, real) WHERE fast IS DISTINCT FROM real;
COMMIT;
\\else
INSERT INTO gs_mismatch SELECT now(), 'read committed', * FROM (
  $checks
) s(what, fast, real) WHERE fast IS DISTINCT FROM real;
\\endif
INSERT INTO gs_served VALUES (now(), gs_fast_reads());
},
	'fold.sql' => q{
SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE mode = 'exact' AND exact_state = 'ready';
\sleep 20 ms
},
);
my %path = write_pgbench_scripts($dir, \%scripts);
my @start = (
	[ spread => '-c', '3', '-j', '1', '--max-tries=20', '-f', "$path{'spread.sql'}\@2", '-f', "$path{'part.sql'}\@1" ],
	[ one_group => '-c', '3', '-j', '1', '--max-tries=20', '-f', $path{'one_group.sql'} ],
	[ checker => '-c', '2', '-j', '1', '-f', $path{'check.sql'} ],
	[ folder => '-c', '1', '-j', '1', '-f', $path{'fold.sql'} ],
);
run_pgbench_clients($node, $seed, $seconds, @start);

is($node->safe_psql('postgres', 'SELECT count(*) FROM gs_mismatch'), '0',
	"fast_count() and fast_count_groups() = count(*) in every one of the checker's statements")
  or diag($node->safe_psql('postgres',
	"SELECT at, isolation, what, left(fast, 300), left(real, 300) FROM gs_mismatch ORDER BY at LIMIT 20"));

my $served = $node->safe_psql('postgres', 'SELECT max(reads) FROM gs_served');
note("group reads served from shared memory by one checker connection: $served");
cmp_ok($served, '>', 0, 'checkers were served from the groups\' shared-memory mirrors');

# Quiet now: counted again after partition TRUNCATEs, folded, still exact,
# and served from the groups' rows (no scan of the tables).
$node->safe_psql('postgres', q{
	SELECT fast_count._exact_settle(key) FROM fast_count_entries WHERE mode = 'exact';
	SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE mode = 'exact';
});
my $quiet = $checks;
$quiet =~ s/:a\b/2/g;
$quiet =~ s/:b\b/5/g;
$quiet =~ s/:bucket\b/42/g;
$quiet =~ s/:bucket1\b/43/g;
is($node->safe_psql('postgres', "SELECT count(*) FROM ($quiet) s(what, fast, real) WHERE fast IS DISTINCT FROM real"),
	'0', 'exact after the soak');
my $fast_reads = join(",\n  ", @fast);
$fast_reads =~ s/:a\b/2/g;
$fast_reads =~ s/:b\b/5/g;
$fast_reads =~ s/:bucket\b/42/g;
$fast_reads =~ s/:bucket1\b/43/g;
is($node->safe_psql('postgres', qq{
	SELECT $fast_reads;
	SELECT sum(pg_stat_get_xact_numscans(c)) FROM unnest(ARRAY['gs_book', 'gs_part_lo', 'gs_part_hi']::regclass[]) c;
}) =~ s/.*\n//r, '0', 'every check is served from the groups, without scanning the tables');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM fast_count_entries WHERE mode = 'exact' AND exact_state = 'ready'"),
	scalar(@registrations), 'every grouped entry is ready');
cmp_ok($node->safe_psql('postgres',
		"SELECT n_tup_del FROM pg_stat_user_tables WHERE relid = 'fast_count.exact_deltas'::regclass"),
	'>', 0, 'delta rows were folded');
# After the fold: one row per non-empty group and one base per registration.
my $groups = join(' + ', map {
	my ($q, $columns) = @$_;
	my $cols = join(', ', @$columns);
	"(SELECT count(*) FROM (SELECT DISTINCT $cols FROM ($q) s) d)"
} @registrations);
is($node->safe_psql('postgres', "SELECT count(*) <= $groups + " . scalar(@registrations) . " FROM fast_count.exact_deltas"),
	't', 'folded down to a row per group');

$node->stop;
done_testing();
