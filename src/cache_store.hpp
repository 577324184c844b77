// Cache store: the rows of fast_count.entries (through catalog.hpp), source
// of truth for cached counts and registrations. Read and written at the heap level:
// reads see the latest committed rows whatever the caller's isolation level,
// writes need no privilege on the table (ordinary users have none), and
// every write happens under the entry's key lock (key_lock.hpp). A key lock
// may be released before its writer commits, so no writer waits on a row
// version of another open transaction: readers skip their write
// (keep_count), the worker checks row_free() and tries again later, and
// the other writers fail with 55P03 (lock_not_available) instead.
#pragma once

#include "count_executor.hpp"
#include "entry.hpp"
#include "query_identity.hpp"

extern "C" {
#include "nodes/pg_list.h"
#include "utils/timestamp.h"
}

namespace fast_count::cache_store {

using fast_count::Entry;

// Whether a count taken now would include no uncommitted write: the
// transaction has no XID, or got it from cache rows written through this
// file and has run no other writing command since (every heap write uses a
// command ID, which moves the command counter at the next increment, and a
// count increments it before it takes its snapshot). Ask after counting.
bool no_uncommitted_writes();

// Fresh read of one entry; false when there is none.
bool lookup(const pg_uuid_t &key, Entry *entry, bool with_text = false);

// Stores a count (or an estimate, run.is_estimate) with the change
// signature of the tables it read (may be null). A registered entry keeps
// its registration and gets its next refresh time; otherwise the entry is
// (re)written as retroactive.
void store_count(const QueryIdentity *identity, const CountRun &run, bytea *signature);

// A reader's or a refresh's count, under the key lock: written to the key's
// row in this transaction unless another open transaction holds a version
// of it, and with share_now (the caller made sure that it includes no
// uncommitted writes) published to the shared index at once, whether
// written or not. Returns whether the row was written.
bool keep_count(const QueryIdentity *identity, const CountRun &run, bytea *signature,
                bool share_now);

// Whether no transaction in progress other than this one holds a version of
// the key's row (so that writing it would not wait). Ask under the key lock.
bool row_free(const pg_uuid_t &key);

// Raises 55P03 (lock_not_available) unless row_free(key).
void require_row_free(const pg_uuid_t &key);

// The tables did not change since the last count: the count still holds as
// of checked_at, and a registered entry's next refresh moves on.
void confirm_count(const pg_uuid_t &key, TimestampTz checked_at);

// Mirrors the entry's row, as this transaction has it now, into the shared
// index at commit (for writers of the table other than this file).
void publish_at_commit(const pg_uuid_t &key);

// Creates or updates the registration of identity's key.
void register_query(const QueryIdentity *identity, int64 refresh_every_us, Oid owner,
                    ArrayType *settings, TimestampTz registered_at);

// Deletes an entry; false when there was none.
bool remove(const pg_uuid_t &key);

// Records a failure on an entry (a refresh, or a mode's task) and when to
// try again: last_error, last_error_at, failures + 1, next_refresh_at.
void record_failure(const pg_uuid_t &key, const char *message, TimestampTz retry_at);

// Keys of registered entries due at now, and of estimates waiting for their
// count; *next_due gets the earliest later refresh time (or stays unchanged
// when there is none).
List *due_keys(TimestampTz now, TimestampTz *next_due);

// Keys of all entries.
List *all_keys();

// Keys of retroactive entries that expired before now.
List *expired_keys(TimestampTz now);

// Registered entries whose query text and parameters are exactly these.
List *keys_registered_as(const char *query, ArrayType *params);

// Forgets counts over dropped relations: retroactive entries go, registered
// ones lose their count and are retried (and re-keyed) by the worker.
void forget_relations(List *relids);

// The relations an entry's query names (relids) and reads once views are
// expanded (tables); NIL when there is no entry.
void relations_of(const pg_uuid_t &key, List **relids, List **tables);

// The OIDs of an oid[] datum (relids, tables), as a list.
List *oid_list(Datum array);

// Every row, deformed (value of catalog column c at values[c - 1]; columns
// the installed layout lacks are NULL), with its decoded entry; for listing.
using RowVisitor = void (*)(const Datum *values, const bool *nulls, const Entry &entry,
                            void *arg);
void for_each_row(RowVisitor visit, void *arg);

// Saturating: a huge interval is INT64_MAX microseconds, never negative.
int64 interval_to_usecs(const Interval *interval);

// A registration's interval as used now: never longer than
// fast_count.max_refresh_every, also when it was registered with a longer
// one (before the setting was lowered, or on 0.2.0).
int64 capped_interval(int64 refresh_every_us);

} // namespace fast_count::cache_store
