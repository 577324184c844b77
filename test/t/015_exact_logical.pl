# Exact counts on a logical replication subscriber: the apply worker (and
# the initial table sync's COPY) run with session_replication_role =
# replica and fire row triggers but no statement triggers, so exact mode's
# row trigger counts what they write, once; ordinary sessions on the
# subscriber are counted by the statement triggers.
use strict;
use warnings;
use lib 'test/perl';
use FastCountNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $publisher = PostgreSQL::Test::Cluster->new('logical_publisher');
$publisher->init(allows_streaming => 'logical');
$publisher->start;
my $subscriber = new_fast_count_node('logical_subscriber');
$subscriber->start;

my $schema = q{
	CREATE TABLE tasks (id int, done boolean, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
	CREATE TABLE tasks_eu PARTITION OF tasks FOR VALUES IN ('eu');
	CREATE TABLE tasks_us PARTITION OF tasks FOR VALUES IN ('us');
	CREATE TABLE notes (id int PRIMARY KEY, body text);
};
$publisher->safe_psql('postgres', $schema);
$subscriber->safe_psql('postgres', $schema);
$publisher->safe_psql('postgres', q{
	INSERT INTO tasks SELECT g, g % 3 = 0, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END
	  FROM generate_series(1, 3000) g;
	INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 500) g;
	CREATE PUBLICATION pub FOR TABLE tasks, notes WITH (publish_via_partition_root = true);
});
# Registered before the subscription exists: the initial sync's COPY counts.
$subscriber->safe_psql('postgres', q{
	CREATE EXTENSION fast_count;
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM tasks WHERE NOT done', mode => 'exact'));
	SELECT fast_count._exact_settle(fast_count_register('SELECT * FROM notes', mode => 'exact'));
});
my $connstr = $publisher->connstr . ' dbname=postgres';
$subscriber->safe_psql('postgres', "CREATE SUBSCRIPTION sub CONNECTION '$connstr' PUBLICATION pub");
$subscriber->wait_for_subscription_sync($publisher, 'sub');

my $check = q{SELECT fast_count('SELECT * FROM tasks WHERE NOT done') || ' ' || (SELECT count(*) FROM tasks WHERE NOT done)
              || ' ' || fast_count('SELECT * FROM notes') || ' ' || (SELECT count(*) FROM notes)};
is($subscriber->safe_psql('postgres', $check), '2000 2000 500 500', 'the initial sync counts once');

$publisher->safe_psql('postgres', q{
	INSERT INTO tasks SELECT g, false, 'eu' FROM generate_series(3001, 3100) g;
	UPDATE tasks SET done = true WHERE id <= 300;
	UPDATE tasks SET region = 'us' WHERE id BETWEEN 301 AND 400 AND region = 'eu';
	DELETE FROM tasks WHERE id > 3050;
	COPY notes (id) FROM PROGRAM 'seq 501 700';
	DELETE FROM notes WHERE id % 10 = 0;
});
$publisher->wait_for_catchup('sub');
is($subscriber->safe_psql('postgres', $check), '1850 1850 630 630', 'applied writes count once');

# Ordinary writes on the subscriber count through the statement triggers.
$subscriber->safe_psql('postgres', q{
	INSERT INTO notes SELECT g, 'local' FROM generate_series(10001, 10100) g;
	DELETE FROM tasks WHERE id BETWEEN 1000 AND 1099;
});
is($subscriber->safe_psql('postgres', $check), '1783 1783 730 730', 'local writes count once');

$publisher->safe_psql('postgres', q{
	TRUNCATE notes;
	INSERT INTO notes VALUES (1, 'again');
});
$publisher->wait_for_catchup('sub');
is($subscriber->safe_psql('postgres', $check), '1783 1783 1 1', 'a replicated TRUNCATE');

$subscriber->stop;
$publisher->stop;
done_testing();
