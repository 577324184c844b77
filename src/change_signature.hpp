// Change detection: a signature of the tables a query reads, taken from
// the cumulative statistics (rows inserted, updated, deleted) and each
// table's relfilenode (which TRUNCATE, VACUUM FULL and REFRESH MATERIALIZED
// VIEW replace). Equal signatures mean the tables have not changed since the
// count, so the worker need not count again. Statistics reach shared memory
// when a writing backend flushes them, at most some seconds after its commit.
#pragma once

#include "query_identity.hpp"

namespace fast_count {

// The signature now, or nullptr when changes cannot be seen this way
// (a foreign table, track_counts off, or a time-dependent query).
bytea *change_signature(const QueryIdentity *identity);

bool same_signature(const bytea *a, const bytea *b);

} // namespace fast_count
