// Refresher: the one place that counts. Every path (a reader's miss, a manual
// refresh, the worker) goes through here: the key lock keeps two counts of
// one query from running at once, freshness is re-checked once the lock is
// held, and a caller that had to wait uses the count it waited for.
#pragma once

#include "cache_store.hpp"
#include "query_identity.hpp"

namespace fast_count::refresher {

// fast_count(): a usable cached count, or a count now (kept when it is large
// or slow enough, or the query is registered). A hit reads no table when the
// library is preloaded, and parses nothing when the text is in the memo.
int64 count_for_reader(const char *text, ArrayType *params);

// fast_count_refresh(): counts now and stores; a refresh that completes while
// this one waits for the lock is used instead.
int64 refresh(const QueryIdentity *identity);

enum class Outcome { kRefreshed, kUnchanged, kNotDue, kBusy, kGone };

struct WorkerResult {
    Outcome outcome;
    int64 count;
    double milliseconds;
    const char *query;
};

// The worker's refresh of one registered entry (or the first count of an
// estimate), as the role that registered it and with the settings it was
// registered under. Tables unchanged since the last count: no count.
WorkerResult refresh_entry(const pg_uuid_t &key);

// Whether this transaction may write the cache (not on a standby, not in a
// read-only transaction).
bool cache_writable();

// Raises 42501 unless the current user may run the query.
void check_permissions(const QueryIdentity *identity);

// Transparent mode (fast_count.transparent): how far a plain count(*)
// may be answered from the cache.
enum class Transparent { kExact = 1, kRegistered = 2, kAll = 3 };

struct TransparentAnswer {
    int64 count;
    const char *source;      // "exact", "registered", "cached" or "counted"
    TimestampTz counted_at;  // 0 for exact: the count is as of the caller's snapshot
};

// The answer to an intercepted count of identity (which has its
// count_query), or false: the statement runs its own plan. Exact entries
// give the caller's snapshot's count; with level kRegistered or kAll,
// registered (and kAll: retroactive) counts within their bounds, unless
// this transaction wrote; kAll keeps a miss as fast_count() would. The
// caller's privileges are the executor's to check, on the statement.
bool serve_transparent(const QueryIdentity *identity, Transparent level,
                       TransparentAnswer *answer);

} // namespace fast_count::refresher
