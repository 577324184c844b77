// Exact reads without table access (preloaded library, primary only): a
// shared-memory mirror of the delta rows of each exact key (a plain
// count's, or one group's of a grouped count) that readers use, so that a read under the caller's snapshot S is
//
//     settled + sum of the ring's deltas whose writer S sees committed
//
// and reads no table. Per key, a slot holds `settled` (what every delta
// row of transactions below the horizon H sums to, the base included) and
// a ring of (top-level xid, delta) that writers publish at PRE_COMMIT /
// PRE_PREPARE, when they write their delta row. A reader whose snapshot
// has xmin >= H sees every transaction below H that committed, so the
// slot gives its count exactly; any other reader, and every doubt, goes to
// the delta rows as before. docs/exact-mode.md ("Read path") has the proof
// and the list of fallbacks.
#pragma once

#include "pg/transaction_callbacks.hpp"

extern "C" {
#include "postgres.h"

#include "utils/snapshot.h"
#include "utils/uuid.h"
}

namespace fast_count::exact_fastpath {

// Shared memory (shared_state.cpp calls these from its shmem hooks).
Size shmem_size();
void shmem_request();
void shmem_startup();

// A writer's delta row for key was just inserted (at PRE_COMMIT or
// PRE_PREPARE, by this transaction's top level): publish it.
void publish(const pg_uuid_t &key, int64 delta);

// Something other than a writer's delta row changed key's rows or state
// (a base, a reset, a state or mode change): the slot is no longer the
// rows' mirror, nor are the slots of key's groups. Called after the
// change, by the transaction making it.
void invalidate(const pg_uuid_t &key);

// The sum of key's delta rows that snapshot sees (this transaction's
// pending changes not included), when the slot can give it exactly.
bool read(const pg_uuid_t &key, Snapshot snapshot, int64 *sum);

// The delta rows gave sum under snapshot, an established count (a current
// base seen): start mirroring key, or finish doing so. For a group's key,
// parent is the grouped registration's key, whose base was the one seen:
// invalidating parent invalidates the group's mirror too.
void note_table_read(const pg_uuid_t &key, Snapshot snapshot, int64 sum,
                     const pg_uuid_t *parent = nullptr);

// Transaction end (exact_mode.cpp registers it): what this transaction
// published is marked committed, or taken back.
void at_transaction_end(transaction_callbacks::End end);

// Reads this backend served from shared memory (for tests).
uint64 fast_reads();

} // namespace fast_count::exact_fastpath
