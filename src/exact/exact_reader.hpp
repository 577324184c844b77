// Reading an exact entry: the count the caller's snapshot sees, from the
// delta rows (plus this transaction's own pending changes), or counted live
// when the snapshot cannot be served from them.
#pragma once

#include "entry.hpp"
#include "query_identity.hpp"

extern "C" {
#include "nodes/pg_list.h"
#include "utils/array.h"
}

namespace fast_count::exact_internal {

// Exact mode's reader (mode_registry.hpp): fast_count() of an exact entry.
int64 read_count(const QueryIdentity *identity, const Entry &entry);

// The same count when the delta rows give it for the caller's snapshot;
// false (nothing counted) when only a live count could (transparent mode
// then runs the statement's own plan).
bool read_established(const QueryIdentity *identity, const Entry &entry, int64 *count);

// fast_count_groups(): every group of the grouped registration key (whose
// text identity is, with its key) with a non-zero count, exact under the
// caller's snapshot (exact_store::GroupSum *); counted live when the
// delta rows do not give it.
List *read_groups(const QueryIdentity *identity, const pg_uuid_t &key, ArrayType *group_by,
                  Oid table);

} // namespace fast_count::exact_internal
