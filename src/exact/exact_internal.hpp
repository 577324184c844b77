// Shared between the exact-mode files; not for other layers.
#pragma once

#include "exact/exact_registration.hpp"
#include "exact/exact_store.hpp"

extern "C" {
#include "utils/snapshot.h"
}

namespace fast_count::exact_internal {

// --- exact_triggers.cpp ----------------------------------------------------

// Compiles predicate for a row of table, the way the row trigger does
// (raises the error a broken predicate would raise there).
void check_predicate(const char *predicate, Oid table);

// Transaction end: trigger states retired during the transaction are freed.
void triggers_at_transaction_end();

// --- exact_ddl.cpp -----------------------------------------------------------

char *row_trigger_name(Oid table);
char *truncate_trigger_name(Oid origin);

// Creates what table's exact queries need and is missing: the row trigger
// (cloned by PostgreSQL to every partition) and a TRUNCATE trigger on table
// and each of its partitions. The row trigger fires on UPDATE only when a
// query of the table has a WHERE clause (predicate: the one being
// registered or re-derived, nullptr if none); an UPDATE cannot change the
// count of the others. Runs as the current user: PostgreSQL checks the
// TRIGGER privilege.
void ensure_triggers(Oid table, const char *predicate);

// Why table's row trigger does not count every row change (missing,
// disabled on table or a partition), or nullptr when it does. A trigger
// enabled only for origin or replica sessions is made ALWAYS.
const char *trigger_problem(Oid table);

// Drops table's triggers when no exact query reads the table any more.
void drop_triggers_if_unused(Oid table);

// Marks the exact entries of these tables 'rederive' (their delta rows go,
// readers count live until the worker has counted again), with why as the
// recorded error when not null.
void mark_rederive(List *tables, const char *why);

// The relation and its partition ancestors.
List *self_and_ancestors(Oid relid);

// --- exact_mode.cpp ------------------------------------------------------

// check_eligible() without raising: false and *why when not eligible.
bool eligible(const QueryIdentity *identity, exact_mode::Eligibility *out, const char **why);

// --- exact_worker.cpp ------------------------------------------------------

enum class Step { kDone, kNothing, kBusy, kFailed };

// Re-derives an entry in state 'rederive' from its text (as its owner,
// with its settings): new predicate, triggers, state 'backfill'; follows
// the text to another key when it now reads another table or types. In
// the caller's transaction.
Step rederive(const pg_uuid_t &key, bool wait_for_lock);

// Counts an entry in state 'backfill' under one snapshot and stores the
// base (count minus the deltas that snapshot sees); state 'ready'.
Step backfill(const pg_uuid_t &key, bool wait_for_lock);

// Follows an entry to the key its text reads as now (after ALTER TABLE or
// a table re-created under its name); true when it moved. With carry_count,
// a ready count moves along when no writer can be in flight (the caller
// holds SHARE ROW EXCLUSIVE or stronger on the table and its partitions,
// as ALTER TABLE ... ADD COLUMN does, which changes the key of SELECT *);
// otherwise the new key is re-derived and counted again.
bool follow_text(const pg_uuid_t &key, bool carry_count);

} // namespace fast_count::exact_internal
