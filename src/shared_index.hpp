// Shared-memory index of cached counts (preloaded library only): key ->
// count and freshness, so that a cache hit reads no table. It mirrors
// fast_count.entries: every committed change of an entry is published here
// at commit, and a reader's or a refresh's count (one that includes no
// uncommitted writes) as soon as it is counted, under the key lock, so that
// waiters need not wait for the counting transaction to end. Publication is
// thus not ordered by commit: an older count never replaces a newer one
// (counted_at decides), and a row committed with an older count than the
// slot's changes only the registration fields. Readers treat a miss here as
// "look in the table". Not used on a standby, whose table changes
// arrive by WAL replay without anyone publishing them.
#pragma once

#include "entry.hpp"

extern "C" {
#include "nodes/pg_list.h"
}

namespace fast_count::shared_index {

Size shmem_size();
void shmem_startup();

// Whether the index may be used now (preloaded, and not in recovery).
bool usable();

// Decides whether a found entry is served (a hit), with the index's lock held.
struct HitTest {
    bool (*is_hit)(const Entry &entry, void *arg);
    void *arg;
    bool *hit;  // set to whether it was: then the hit is already counted
};

// Copies the entry for key if the index has it for catalog table catalog,
// and counts a hit when hit_test (may be null) says it is one.
bool find(Oid catalog, const pg_uuid_t &key, Entry *entry, const HitTest *hit_test = nullptr);

// Mirrors an entry (values as committed by this transaction) or its removal;
// takes effect when the transaction commits.
void publish_at_commit(Oid catalog, const Entry &entry);
void forget_at_commit(const pg_uuid_t &key);
// This database's whole index goes at commit (the table was edited by hand).
void forget_database_at_commit();
// For a reader, a refresh or the loader holding the key lock over values
// that include no uncommitted writes; ignored when the slot has a newer count.
void publish_now(Oid catalog, const Entry &entry);

// Frees slots nobody can read any more: those of databases not in
// databases (dropped ones), and those of this database that came from
// another catalog table (the extension was dropped and created again).
void forget_databases_except(List *databases);
void forget_other_catalogs(Oid catalog);
// Frees this database's retroactive slots that expired before now: a count
// published before its writer committed may have no row (the writer rolled
// back, or another open transaction held the row), so no row's removal
// would ever free its slot.
void forget_expired(TimestampTz now);

enum class Event { kHit, kMiss, kCount, kLiveCount };
// Counts an event of an entry (and in the totals); ms is what the count took
// (kCount, kLiveCount) or what a hit saved (kHit).
void note(const pg_uuid_t &key, Event event, double ms);

struct Counters {
    uint64 hits;
    uint64 misses;
    uint64 counts;
};
struct Totals {
    uint64 hits;
    uint64 misses;
    uint64 counts;
    uint64 live_counts;
    double count_ms;
    double saved_ms;
    uint64 entries;
    uint64 capacity;
    TimestampTz reset_at;
};
Totals totals();
void reset_counters();

struct CounterRow {
    pg_uuid_t key;
    Counters counters;
};
// Copies the counters of this database's entries into rows (at most
// capacity of them); returns how many were copied.
int copy_counters(CounterRow *rows, int capacity);

void at_transaction_end(bool committed);
void at_prepare();
void at_subtransaction_end(bool committed, int level);

} // namespace fast_count::shared_index
