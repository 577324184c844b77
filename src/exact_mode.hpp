// Exact mode: counts of single-table queries kept exact by row triggers
// (docs/exact-mode.md). This header holds the hooks the other layers call;
// the parts live in exact_*.cpp.
//
//   registration (sql_api)   parse_mode / check_eligible / apply / forget
//   reading (refresher)      read_count
//   DDL (sql_drop)           relations_dropped
//   worker                   run_worker_tasks
#pragma once

#include "cache_store.hpp"
#include "query_identity.hpp"

extern "C" {
#include "fmgr.h"
#include "utils/timestamp.h"
}

namespace fast_count::exact_mode {

// From _PG_init: transaction, subtransaction and relcache callbacks.
void init();

enum class Mode { kPeriodic, kExact };

// The mode argument of fast_count_register() (NULL or absent: periodic).
Mode mode_argument(FunctionCallInfo fcinfo, int argno);

// What an exact registration of a query needs: its one table and its WHERE
// clause (nodeToString, or nullptr when it counts every row).
struct Eligibility {
    Oid table;
    char *predicate;
};

// Raises 0A000 naming why the query cannot be counted exactly (and 42501
// without the privilege to create a trigger on its table).
Eligibility check_eligible(const QueryIdentity *identity);

// After cache_store::register_query(), under the key lock: makes the entry
// exact (triggers, state 'backfill') or, for mode periodic, turns an exact
// entry back into a periodic one. eligibility is only read for kExact.
void apply(const QueryIdentity *identity, Mode mode, const Eligibility &eligibility);

// Before an exact entry is removed (unregister), under the key lock: its
// delta rows go, and its table's triggers when no other exact query needs
// them.
void forget(const pg_uuid_t &key);

// fast_count() of an exact entry: the count the caller's snapshot sees,
// from the delta rows (plus this transaction's own pending changes), or
// counted live when the snapshot cannot be served from them.
int64 read_count(const QueryIdentity *identity, const cache_store::Entry &entry);

// The same count when the delta rows can give it for the caller's
// snapshot; false (nothing counted) when only a live count could.
bool read_established(const QueryIdentity *identity, int64 *count);

// sql_drop: relations (and with them our triggers) were dropped.
void relations_dropped(List *relids);

// One pass of the worker over the exact entries (re-derive, backfill,
// fold), each in a transaction of its own; errors are reported and
// recorded on the entry. Returns when the worker should look again (no
// later than next_wake).
TimestampTz run_worker_tasks(TimestampTz next_wake);

} // namespace fast_count::exact_mode
