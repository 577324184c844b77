# Writers committing delta rows while fast_count.exact_deltas keeps getting
# relcache invalidations (VACUUM and ANALYZE of it, as autovacuum runs them
# under writes): a backend processes them whenever it takes a lock, in the
# middle of writing its rows. Once, that cleared what it had found about the
# table between opening one index and the next: "could not open relation
# with OID 0" for writers, rows with a NULL key that crashed every fold of
# the worker, and transactions whose delta rows were silently skipped.
# Bounded time (FC_INVAL_SECONDS, default 10); timing decides how often the
# window is hit, so a run without the bug finds nothing and one with it
# found it within a second or two here.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{FC_INVAL_SECONDS} // 10;

my $node = new_fast_count_node('inval', conf => "log_min_messages = warning\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE book (id bigserial PRIMARY KEY, author_id int, flag boolean);
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM book', mode => 'exact',
	                                                    group_by => ARRAY['author_id']));
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM book WHERE flag', mode => 'exact'));
});
my $worker = '';
for (1 .. 30)
{
	$worker = worker_pid($node, 'postgres');
	last if $worker ne '';
	sleep(1);
}
isnt($worker, '', 'the worker runs');

my $dir = PostgreSQL::Test::Utils::tempdir;
my %scripts = (
	'write.sql' => q{
\set a random(1, 200)
\set n random(1, 3)
INSERT INTO book (author_id, flag) SELECT :a + g, g % 2 = 0 FROM generate_series(1, :n) g;
},
	'invalidate.sql' => q{
ANALYZE fast_count.exact_deltas;
VACUUM fast_count.exact_deltas;
},
);
my %path;
for my $name (keys %scripts)
{
	$path{$name} = "$dir/$name";
	open(my $fh, '>', $path{$name}) or die "cannot write $path{$name}: $!";
	print $fh $scripts{$name};
	close($fh);
}

my @connect = ('-h', $node->host, '-p', $node->port, '-n');
my %runs;
for my $run ([ writers => '-c', '4', '-j', '2', '-f', $path{'write.sql'} ],
	[ invalidator => '-c', '1', '-j', '1', '-f', $path{'invalidate.sql'} ])
{
	my ($name, @args) = @$run;
	my ($out, $err) = ('', '');
	my $handle = IPC::Run::start([ 'pgbench', @connect, '-T', $seconds, @args, 'postgres' ],
		'>', \$out, '2>', \$err);
	$runs{$name} = { handle => $handle, out => \$out, err => \$err };
}
for my $name (sort keys %runs)
{
	my $run = $runs{$name};
	$run->{handle}->finish;
	my $status = $? >> 8;
	my ($done) = ${ $run->{out} } =~ /number of transactions actually processed: (\d+)/;
	$done //= 0;
	note("$name: $done transactions, exit status $status");
	is($status, 0, "$name pgbench finished without error") or diag(${ $run->{err} });
	cmp_ok($done, '>', 20, "$name did work");
}

is($node->safe_psql('postgres',
		'SELECT count(*) FROM fast_count.exact_deltas WHERE key IS NULL OR delta IS NULL'),
	'0', 'every delta row has its key and delta');
# The worker folds (every second) and lives on.
$node->safe_psql('postgres',
	"SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE mode = 'exact'");
sleep(2);
is(worker_pid($node, 'postgres'), $worker, 'the worker did not crash');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	  (SELECT key[1]::int, count FROM fast_count_groups('SELECT * FROM book')
	   EXCEPT SELECT author_id, count(*) FROM book GROUP BY author_id)
	  UNION ALL
	  (SELECT author_id, count(*) FROM book GROUP BY author_id
	   EXCEPT SELECT key[1]::int, count FROM fast_count_groups('SELECT * FROM book'))) d}),
	'0', 'every group is exact');
is($node->safe_psql('postgres',
		"SELECT fast_count('SELECT * FROM book WHERE flag') = count(*) FROM book WHERE flag"),
	't', 'the plain exact count is exact');

$node->stop;
done_testing();
