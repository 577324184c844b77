// Exact mode's storage, through catalog.hpp like cache_store: the exact
// columns of fast_count.entries (mode, exact_state, exact_predicate) and
// the delta rows of fast_count.exact_deltas. No privilege
// checks (ordinary users have none on these tables); callers hold the
// entry's key lock (key_lock.hpp) for every write but the writers' own
// delta rows.
#pragma once

extern "C" {
#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

namespace fast_count::exact_store {

// exact_state; kNone for a periodic entry.
enum class State : char { kNone = 0, kBackfill = 'b', kReady = 'r', kRederive = 'd' };

const char *state_name(State state);

struct ExactEntry {
    pg_uuid_t key;
    bool exact;
    State state;
    Oid table;            // the one table an exact query reads
    char *predicate;      // nodeToString() of its WHERE clause; nullptr: every row
    Oid owner;
    int32 failures;
    bool has_next_attempt;
    TimestampTz next_attempt;  // next_refresh_at: when the worker may retry after an error
    bool has_error;
    ArrayType *group_by;  // text[] of a grouped registration's columns; nullptr otherwise
    // Only with with_text:
    char *query;
    ArrayType *params;
    ArrayType *settings;
};

// Whether this database has the 0.2.0 layout (exact_deltas exists).
bool available();

// Fresh read of one entry; false when there is none.
bool lookup(const pg_uuid_t &key, ExactEntry *entry, bool with_text = false);

// Every exact entry (ExactEntry *), or those reading table.
List *exact_entries(Oid table = InvalidOid);

// What update() writes on an entry; what is not set is kept. Built as
// Change().to_state(State::kReady).clearing_error().
struct Change {
    const char *mode = nullptr;  // "periodic" or "exact"
    bool set_state = false;
    State state = State::kNone;  // kNone writes NULL
    bool set_predicate = false;
    const char *predicate = nullptr;
    bool clear_error = false;
    const char *error = nullptr;  // recorded as a failure (cache_store::record_failure)
    TimestampTz retry_at = 0;
    bool set_group_by = false;
    ArrayType *group_by = nullptr;  // nullptr writes NULL

    Change &to_mode(const char *name) { mode = name; return *this; }
    Change &to_state(State new_state) { set_state = true; state = new_state; return *this; }
    Change &to_predicate(const char *text) { set_predicate = true; predicate = text; return *this; }
    Change &clearing_error() { clear_error = true; return *this; }
    Change &to_group_by(ArrayType *columns) { set_group_by = true; group_by = columns; return *this; }
    Change &failed(const char *message, TimestampTz retry) { error = message; retry_at = retry; return *this; }
};
void update(const pg_uuid_t &key, const Change &change);

// --- fast_count.exact_deltas ---------------------------------------------

struct Sum {
    int64 sum = 0;
    int64 rows = 0;
    int64 base_rows = 0;
    bool epochs_agree = true;  // every base row has the same epoch
    int64 epoch = 0;           // of the base rows
    bool bases_current = true; // no base row seen was ever deleted (by a fold or a reset)
};

// Sum of the key's rows that snapshot sees; nullptr: the latest committed
// rows and this transaction's own.
Sum sum(const pg_uuid_t &key, Snapshot snapshot);

// Epoch of the key's latest base row; false when there is none.
bool latest_epoch(const pg_uuid_t &key, int64 *epoch);

// A writer's delta row.
void insert_delta(const pg_uuid_t &key, int64 delta);

// A writer's delta row of one group (key) of a grouped registration (parent).
void insert_group_delta(const pg_uuid_t &key, const pg_uuid_t &parent, const bytea *group,
                        int64 delta);

// A group's row of a backfill: the parent's new base that follows makes
// it (and every other group's rows) a count.
void insert_group_base(const pg_uuid_t &key, const pg_uuid_t &parent, const bytea *group,
                       int64 count);

// Whether this database has the layout of grouped registrations (0.4.0).
bool groups_available();

// One group of a grouped registration: the sum of its rows.
struct GroupSum {
    pg_uuid_t key;
    bytea *group;  // the group's values (image), palloc'd
    int64 sum;
};

// The sums of every group of parent that snapshot sees (GroupSum *).
List *group_sums(const pg_uuid_t &parent, Snapshot snapshot);

// A dynahash in the current memory context whose entries (of entry_size
// bytes) start with a pg_uuid_t key: groups and keys, which may number a
// million.
HTAB *uuid_table(const char *name, long size, Size entry_size);

// Sums per group: a uuid_table of GroupSum; add_group_sums() adds sign
// times each GroupSum of groups to it (entering the groups it lacks), and
// nonzero_group_sums() lists the entries whose sum is not 0.
HTAB *new_group_sums(const char *name, long size);
void add_group_sums(HTAB *sums, List *groups, int sign);
List *nonzero_group_sums(HTAB *sums);

// Replaces the rows of each group of parent (latest committed) by one with
// their sum (none when it is 0); returns how many rows went.
int64 fold_groups(const pg_uuid_t &parent);

// A base row, with this transaction as its epoch.
void insert_base(const pg_uuid_t &key, int64 count);

// Deletes every row of the key, and of its groups (latest committed and
// own); returns how many.
int64 remove_all(const pg_uuid_t &key);

// Replaces the key's rows (latest committed) by one with their sum; returns
// how many rows were replaced (0 when there were fewer than two).
int64 fold(const pg_uuid_t &key);

// Keys that have delta rows (pg_uuid_t *); a group's rows count as its
// registration's.
List *keys_with_rows();

} // namespace fast_count::exact_store
