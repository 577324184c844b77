// Backend-local accumulation of exact-mode deltas: the row triggers add to a
// per-(key, subtransaction level) sum; a subtransaction's abort drops its
// level, its commit merges it into the parent; at PRE_COMMIT (or
// PRE_PREPARE) each key with a net change gets ONE row in
// fast_count.exact_deltas, inside the writing transaction; an abort drops
// everything. No other backend ever writes the same row.
#pragma once

#include "pg/transaction_callbacks.hpp"

extern "C" {
#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"
}

namespace fast_count::exact_deltas {

// Transaction callbacks (exact_mode.cpp registers them): the flush at
// PRE_COMMIT, and forgetting or merging what a (sub)transaction kept.
void before_commit();
void at_transaction_end(transaction_callbacks::End end);
void at_subtransaction_end(bool committed, int level);

// A row change of the current (sub)transaction moved key's count by delta.
void add(const pg_uuid_t &key, int64 delta);

// The same for a group (key) of a grouped registration (parent).
void add_group(const pg_uuid_t &key, const pg_uuid_t &parent, const bytea *group, int64 delta);

// A TRUNCATE of key's table rebased its count in this transaction: what
// this transaction changed before no longer adds to it (for a grouped
// registration: to any of its groups).
void rebase(const pg_uuid_t &key);

// Whether key was rebased in this transaction with no row change since.
bool untouched_since_rebase(const pg_uuid_t &key);

// The registration moved from key to new_key: so do the pending changes.
void rekey(const pg_uuid_t &key, const pg_uuid_t &new_key);

// This transaction's own change of key's count that is not written yet
// (what a reader in this transaction adds to the committed rows); parent:
// the grouped registration of a group's key.
int64 pending(const pg_uuid_t &key, const pg_uuid_t *parent = nullptr);

// Whether snapshot sees every change this transaction made so far: only
// then does pending() add to what it sees exactly. A cursor opened before a
// write does not see the write, nor does the writing command itself.
bool pending_seen_by(Snapshot snapshot);

// This transaction's own unwritten changes of each group of parent
// (exact_store::GroupSum *, non-zero ones; their group bytes live until
// the transaction ends).
List *pending_groups(const pg_uuid_t &parent);

} // namespace fast_count::exact_deltas
