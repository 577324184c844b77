// The functions that list entries: fast_count._entries() under the
// fast_count_entries view, and fast_count._counters() (0.2.0's view joins
// it). Both filter in C, before any row leaves the function, so that no
// function or operator of the caller's query (however cheap its cost says
// it is) ever sees an entry the caller may not see (entry_visibility.hpp).
// A key is a hash of the query tree: a list of keys alone is an oracle too.
#include "cache_store.hpp"
#include "catalog.hpp"
#include "entry_visibility.hpp"
#include "pg/pg_boundary.hpp"
#include "settings.hpp"
#include "shared_index.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/tuplestore.h"
}

#include <cstdlib>

namespace fast_count {

namespace {

using namespace cache_store;
using namespace catalog;

// The shared index's activity counters of this database, sorted by key.
struct CounterTable {
    shared_index::CounterRow *rows;
    int n;
};

int compare_keys(const void *a, const void *b)
{
    return memcmp(static_cast<const shared_index::CounterRow *>(a)->key.data,
                  static_cast<const shared_index::CounterRow *>(b)->key.data, UUID_LEN);
}

CounterTable read_counters()
{
    int capacity = settings::max_entries;
    auto *rows = static_cast<shared_index::CounterRow *>(
        palloc(sizeof(shared_index::CounterRow) * (capacity + 1)));
    int n = shared_index::copy_counters(rows, capacity);
    qsort(rows, n, sizeof(*rows), compare_keys);
    return {rows, n};
}

const shared_index::Counters *counters_of(const CounterTable &table, const pg_uuid_t &key)
{
    shared_index::CounterRow probe;
    probe.key = key;
    auto *row = static_cast<const shared_index::CounterRow *>(
        bsearch(&probe, table.rows, table.n, sizeof(*table.rows), compare_keys));
    return row != nullptr ? &row->counters : nullptr;
}

struct Listing {
    ReturnSetInfo *rsinfo;
    CounterTable counters;
    bool counters_only;  // _counters(): key and counters of visible entries
    bool sees_all;
};

bool visible(const Listing &listing, const Datum *values, const bool *nulls)
{
    if (listing.sees_all)
        return true;
    return entry_visibility::may_see(
        cache_store::oid_list(values[kRelids - 1]),
        nulls[kTables - 1] ? NIL : cache_store::oid_list(values[kTables - 1]));
}

void put_counters(const shared_index::Counters *counters, Datum *values, bool *nulls)
{
    nulls[0] = nulls[1] = nulls[2] = counters == nullptr;
    if (counters == nullptr)
        return;
    values[0] = Int64GetDatum(static_cast<int64>(counters->hits));
    values[1] = Int64GetDatum(static_cast<int64>(counters->misses));
    values[2] = Int64GetDatum(static_cast<int64>(counters->counts));
}

// The columns of fast_count._entries(), in its order.
constexpr Column kListed[] = {
    kKey,          kQuery,         kParams,      kRegistered,    kCount,
    kCountedAt,    kExpiresAt,     kRefreshEvery, kNextRefreshAt, kCountDuration,
    kLastError,    kLastErrorAt,   kFailures,    kOwner,         kRelids,
    kSettings,     kMode,          kExactState,  kIsEstimate,    kCheckedAt,
};
constexpr int kListedCount = sizeof(kListed) / sizeof(kListed[0]);

void list_row(const Datum *values, const bool *nulls, const Entry &entry, void *arg)
{
    auto *listing = static_cast<Listing *>(arg);
    if (!visible(*listing, values, nulls))
        return;
    const shared_index::Counters *counters = counters_of(listing->counters, entry.key);
    Datum out[kListedCount + 4];
    bool out_nulls[kListedCount + 4];
    if (listing->counters_only) {
        if (counters == nullptr)
            return;
        out[0] = values[kKey - 1];
        out_nulls[0] = false;
        put_counters(counters, out + 1, out_nulls + 1);
    } else {
        for (int i = 0; i < kListedCount; i++) {
            out[i] = values[kListed[i] - 1];
            out_nulls[i] = nulls[kListed[i] - 1];
            // The next refresh as it is used: capped by max_refresh_every.
            if (kListed[i] == kNextRefreshAt && entry.has_next_refresh_at)
                out[i] = TimestampTzGetDatum(entry.next_refresh_at);
        }
        put_counters(counters, out + kListedCount, out_nulls + kListedCount);
        // group_by (0.4.0) comes last, after the counters.
        if (listing->rsinfo->setDesc->natts > kListedCount + 3) {
            out[kListedCount + 3] = values[kGroupBy - 1];
            out_nulls[kListedCount + 3] = nulls[kGroupBy - 1];
        }
    }
    tuplestore_putvalues(listing->rsinfo->setResult, listing->rsinfo->setDesc, out, out_nulls);
}

Datum list(FunctionCallInfo fcinfo, bool counters_only)
{
    InitMaterializedSRF(fcinfo, 0);
    Listing listing{reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo), read_counters(),
                    counters_only, entry_visibility::sees_all()};
    cache_store::for_each_row(list_row, &listing);
    return static_cast<Datum>(0);
}

} // namespace

} // namespace fast_count

// fast_count._entries() returns setof (the columns of fast_count.entries the
// view shows, hits, misses, refreshes): the entries the caller may see.
FAST_COUNT_FUNCTION(fast_count_entries_list)
{
    return fast_count::list(fcinfo, false);
}

// fast_count._counters() returns setof (key, hits, misses, refreshes) of the
// entries of this database the caller may see.
FAST_COUNT_FUNCTION(fast_count_counters)
{
    return fast_count::list(fcinfo, true);
}
