# Helpers shared by the TAP tests: a cluster set up for fast_count, and the
# questions the tests keep asking it.
package FastCountNode;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Exporter 'import';
use IPC::Run;
use Test::More;

our @EXPORT = qw(new_fast_count_node worker_pid worker_count kill9_and_wait_for_restart
  create_slow_table kill_refresh_halfway write_pgbench_scripts run_pgbench_clients);

# A cluster with fast_count preloaded (unless preload => 0) and a short naptime.
sub new_fast_count_node
{
	my ($name, %opts) = @_;
	my $preload = exists $opts{preload} ? $opts{preload} : 1;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opts{allows_streaming} ? 1 : 0);
	$node->append_conf('postgresql.conf',
		($preload ? "shared_preload_libraries = 'fast_count'\n" : '')
		  . "fast_count.naptime = 1\n"
		  . "max_worker_processes = 16\n"
		  . ($opts{conf} // ''));
	return $node;
}

# pid of the fast_count worker of a database, or '' when there is none.
sub worker_pid
{
	my ($node, $db) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'fast_count worker' "
		  . "AND datname = '$db'");
}

# How many fast_count workers serve a database.
sub worker_count
{
	my ($node, $db) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fast_count worker' "
		  . "AND datname = '$db'");
}

# SIGKILLs a server process and waits until the postmaster has gone through
# crash recovery and accepts connections again.
sub kill9_and_wait_for_restart
{
	my ($node, $pid) = @_;
	my $offset = -s $node->logfile;
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $offset);
	return;
}

# A table whose query $SLOW_QUERY takes about 3 s to count (5 ms a row
# through an IMMUTABLE function): long enough to kill a count halfway.
our $SLOW_QUERY = 'SELECT * FROM wide WHERE slow_id(id) > 0';

sub create_slow_table
{
	my ($node, $rows) = @_;
	$node->safe_psql('postgres', qq{
		CREATE FUNCTION slow_id(int) RETURNS int IMMUTABLE LANGUAGE plpgsql
		  AS \$\$ BEGIN PERFORM pg_sleep(0.005); RETURN \$1; END \$\$;
		CREATE TABLE wide AS SELECT generate_series(1, $rows) AS id;
	});
	return $SLOW_QUERY;
}

# Starts fast_count_refresh(query) in a session of its own, SIGKILLs that
# backend while it counts, and waits for the server to be back. Returns the
# killed backend's pid.
sub kill_refresh_halfway
{
	my ($node, $query) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	$session->query_until(qr/refreshing/, "\\echo refreshing\nSELECT fast_count_refresh('$query');\n");
	my $running = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT fast_count_refresh(%' AND state = 'active'";
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($running) r")
	  or die "the refresh did not start";
	my $pid = $node->safe_psql('postgres', $running);
	kill9_and_wait_for_restart($node, $pid);
	eval { $session->quit; };
	return $pid;
}

# The soaks' pgbench scripts (name => text), written into $dir; returns
# name => path.
sub write_pgbench_scripts
{
	my ($dir, $scripts) = @_;
	my %path;
	for my $name (keys %$scripts)
	{
		$path{$name} = "$dir/$name";
		open(my $fh, '>', $path{$name}) or die "cannot write $path{$name}: $!";
		print $fh $scripts->{$name};
		close($fh);
	}
	return %path;
}

# Runs every pgbench client group of @runs ([name, pgbench arguments...])
# at once against $node for $seconds, then checks that each finished
# without error and did work; returns name => transactions done.
sub run_pgbench_clients
{
	my ($node, $seed, $seconds, @runs) = @_;
	my @connect = ('-h', $node->host, '-p', $node->port, '-n', '--no-vacuum', "--random-seed=$seed");
	my %runs;
	for my $run (@runs)
	{
		my ($name, @args) = @$run;
		my ($out, $err) = ('', '');
		my $handle = IPC::Run::start(
			[ 'pgbench', @connect, '-T', $seconds, @args, 'postgres' ],
			'>', \$out, '2>', \$err);
		$runs{$name} = { handle => $handle, out => \$out, err => \$err };
	}
	my %done;
	for my $name (sort keys %runs)
	{
		my $run = $runs{$name};
		$run->{handle}->finish;
		my $status = $? >> 8;
		my ($done) = ${ $run->{out} } =~ /number of transactions actually processed: (\d+)/;
		$done //= 0;
		my ($failed) = ${ $run->{out} } =~ /number of failed transactions: (\d+)/;
		$failed //= 0;
		note("$name: $done transactions, $failed failed after retries, exit status $status");
		is($status, 0, "$name pgbench finished without error") or diag(${ $run->{err} });
		cmp_ok($done, '>', 20, "$name did work");
		$done{$name} = $done;
	}
	return %done;
}

1;
