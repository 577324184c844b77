// Refresher: the one place that counts. Every path (a reader's miss, a manual
// refresh, the worker) goes through here: the key lock keeps two counts of
// one query from running at once, freshness is re-checked once the lock is
// held, and a caller that had to wait uses the count it waited for.
#pragma once

#include "cache_store.hpp"
#include "query_identity.hpp"

namespace fast_count::refresher {

// fast_count(): a usable cached count, or a count now (kept when it is large
// or slow enough, or the query is registered).
int64 count_for_reader(const QueryIdentity *identity);

// fast_count_refresh(): counts now and stores; a refresh that completes while
// this one waits for the lock is used instead.
int64 refresh(const QueryIdentity *identity);

enum class Outcome { kRefreshed, kNotDue, kBusy, kGone };

struct WorkerResult {
    Outcome outcome;
    int64 count;
    double milliseconds;
    const char *query;
};

// The worker's refresh of one registered entry, as the role that registered
// it and with the settings it was registered under.
WorkerResult refresh_registered(const pg_uuid_t &key);

// Whether this transaction may write the cache (not on a standby, not in a
// read-only transaction).
bool cache_writable();

// Raises 42501 unless the current user may run the query.
void check_permissions(const QueryIdentity *identity);

} // namespace fast_count::refresher
