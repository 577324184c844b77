// Exact mode and DDL: our triggers (create, check, drop) and what DDL on a
// table with exact queries does to its entries.
#pragma once

extern "C" {
#include "postgres.h"

#include "nodes/pg_list.h"
#include "storage/lockdefs.h"
}

namespace fast_count::exact_internal {

char *row_trigger_name(Oid table);
char *truncate_trigger_name(Oid origin);

// Creates what table's exact queries need and is missing: the row trigger
// (cloned by PostgreSQL to every partition) and a TRUNCATE trigger on table
// and each of its partitions. The row trigger fires on UPDATE only when a
// query of the table has a WHERE clause or is grouped (predicate, grouped:
// the one being registered or re-derived; predicate nullptr if none); an
// UPDATE cannot change the count of the others, but it can move a row
// between groups. Runs as the current user: PostgreSQL checks the TRIGGER
// privilege.
void ensure_triggers(Oid table, const char *predicate, bool grouped);

// Why table's row trigger does not count every row change (missing,
// disabled on table or a partition), or nullptr when it does. A trigger
// enabled only for origin or replica sessions is made ALWAYS.
const char *trigger_problem(Oid table);

// Whether table is counted the way 0.3.0 did it (an ALWAYS row trigger, an
// after-trigger event per row) although statement triggers could count it:
// ensure_triggers() switches it, under SHARE ROW EXCLUSIVE.
bool counted_by_old_row_trigger(Oid table);

// Drops table's triggers when no exact query reads the table any more.
void drop_triggers_if_unused(Oid table);

// Marks the exact entries of these tables 'rederive' (their delta rows go,
// readers count live until the worker has counted again), with why as the
// recorded error when not null.
void mark_rederive(List *tables, const char *why);

// The relation and its partition ancestors.
List *self_and_ancestors(Oid relid);

// Locks table and, when it is partitioned, every partition in mode (what
// a writer of any of them must wait for). With wait false, takes none and
// returns false when one is not free at once.
bool lock_table_and_partitions(Oid table, LOCKMODE mode, bool wait = true);

} // namespace fast_count::exact_internal

namespace fast_count::exact_mode {

// sql_drop: relations (and with them our triggers) were dropped.
void relations_dropped(List *relids);

} // namespace fast_count::exact_mode
