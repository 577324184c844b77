// Exact mode's worker tasks: re-derive, backfill and fold exact entries,
// each in a transaction of its own, and follow an entry's text after DDL.
#pragma once

extern "C" {
#include "postgres.h"

#include "utils/timestamp.h"
#include "utils/uuid.h"
}

namespace fast_count::exact_internal {

enum class Step { kDone, kNothing, kBusy, kFailed };

// Re-derives an entry in state 'rederive' from its text (as its owner,
// with its settings): new predicate, triggers, state 'backfill'; follows
// the text to another key when it now reads another table or types. In
// the caller's transaction.
Step rederive(const pg_uuid_t &key, bool wait_for_lock);

// Counts an entry in state 'backfill' under one snapshot and stores the
// base (count minus the deltas that snapshot sees); state 'ready'.
Step backfill(const pg_uuid_t &key, bool wait_for_lock);

// A table whose exact counts still come from 0.3.0's ALWAYS row trigger
// gets statement triggers (exact_ddl.hpp), as owner, under SHARE ROW
// EXCLUSIVE on it and its partitions: waited for with wait_for_lock, else
// not taken when a writer holds it. true when it switched.
bool switch_to_statement_triggers(Oid table, Oid owner, bool wait_for_lock);

// Follows an entry to the key its text reads as now (after ALTER TABLE or
// a table re-created under its name); true when it moved. With carry_count,
// a ready count moves along when no writer can be in flight (the caller
// holds SHARE ROW EXCLUSIVE or stronger on the table and its partitions,
// as ALTER TABLE ... ADD COLUMN does, which changes the key of SELECT *);
// otherwise the new key is re-derived and counted again.
bool follow_text(const pg_uuid_t &key, bool carry_count);

// One pass of the worker over the exact entries (re-derive, backfill,
// fold); errors are reported and recorded on the entry. Returns when the
// worker should look again (no later than next_wake). Exact mode's worker
// task (mode_registry.hpp).
TimestampTz run_worker_tasks(TimestampTz next_wake);

} // namespace fast_count::exact_internal
