# The worker counts without JIT. It is a long-lived process: once it has
# compiled one count, llvmjit and LLVM stay among its loaded libraries, and
# every parallel worker of every later count loads them again before it
# starts (15-20 ms each), which a new session's parallel count does not pay.
# auto_explain shows it: with jit_above_cost = 0 a session's count(*) is
# compiled, the worker's count of the same query is not.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_fast_count_node('worker_jit',
	conf => "shared_preload_libraries = 'fast_count,auto_explain'\n"
	  . "auto_explain.log_min_duration = 0\n"
	  . "jit_above_cost = 0\n");
$node->start;
if ($node->safe_psql('postgres', 'SELECT pg_jit_available()') ne 't')
{
	$node->stop;
	plan skip_all => 'this PostgreSQL has no JIT provider';
}

$node->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE jitted AS SELECT g AS id FROM generate_series(1, 1000) g;
	ANALYZE jitted;
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'fast_count worker'"),
	'the worker runs');
my $worker = worker_pid($node, 'postgres');

my $log_start = -s $node->logfile;
$node->safe_psql('postgres', 'SELECT count(*) FROM (SELECT * FROM jitted WHERE id > 0) q');
$node->safe_psql('postgres',
	q{SELECT fast_count_register('SELECT * FROM jitted WHERE id > 0', '1 hour')});
ok($node->poll_query_until('postgres',
		q{SELECT count = 1000 FROM fast_count_entries WHERE query = 'SELECT * FROM jitted WHERE id > 0'}),
	'the worker counted the registered query');

# auto_explain's messages since the start, one per log record.
my $log = slurp_file($node->logfile, $log_start);
my @records = split /\n(?=\S)/, $log;
my @session = grep { /Query Text: SELECT count\(\*\) FROM \(SELECT \* FROM jitted/ } @records;
my @counted = grep { /\[$worker\] .*plan:\n\s*Query Text: SELECT \* FROM jitted WHERE id > 0\n/ } @records;

is(scalar(@session), 1, "auto_explain logged the session's count(*)");
like($session[0] // '', qr/\n\s*JIT:/, "the session's count(*) is compiled");
ok(@counted >= 1, "auto_explain logged the worker's count")
  or diag($log);
is(scalar(grep { /\n\s*JIT:/ } @counted), 0, "the worker's count is not compiled")
  or diag(join("\n", @counted));
is($node->safe_psql('postgres', 'SHOW jit'), 'on', 'sessions keep their jit setting');

$node->stop;
done_testing();
