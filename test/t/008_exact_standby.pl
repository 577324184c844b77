# Exact counts on a hot standby: the delta rows are replicated with the
# writes that made them, so a standby serves the exact count its snapshot
# sees (and counts live where the primary would), without writing.
# (pg_regress covers the semantics; this covers replication.)
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = new_fast_count_node('exact_primary', allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	CREATE TABLE tasks (id int, done boolean);
	INSERT INTO tasks SELECT g, g % 3 = 0 FROM generate_series(1, 3000) g;
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM tasks WHERE NOT done', mode => 'exact'));
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('exact_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

my $check = q{SELECT fast_count('SELECT * FROM tasks WHERE NOT done') || ' ' || (SELECT count(*) FROM tasks WHERE NOT done)};
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $check), '2000 2000', 'the standby serves the exact count');

$primary->safe_psql('postgres', q{
	INSERT INTO tasks SELECT g, false FROM generate_series(3001, 3100) g;
	UPDATE tasks SET done = true WHERE id <= 300;
	DELETE FROM tasks WHERE id > 3050;
});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $check), '1850 1850', 'and follows the primary\'s writes');

$primary->safe_psql('postgres', q{
	SELECT fast_count._exact_fold(key) FROM fast_count_entries WHERE mode = 'exact';
	TRUNCATE tasks;
	INSERT INTO tasks VALUES (1, false), (2, true);
});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $check), '1 1', 'after a fold and a TRUNCATE on the primary');

$standby->stop;
$primary->stop;
done_testing();
