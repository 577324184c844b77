// Reading an exact entry: the count the caller's snapshot sees, from the
// delta rows (plus this transaction's own pending changes), or counted live
// when the snapshot cannot be served from them.
#pragma once

#include "entry.hpp"
#include "query_identity.hpp"

namespace fast_count::exact_internal {

// Exact mode's reader (mode_registry.hpp): fast_count() of an exact entry.
int64 read_count(const QueryIdentity *identity, const Entry &entry);

// The same count when the delta rows give it for the caller's snapshot;
// false (nothing counted) when only a live count could (transparent mode
// then runs the statement's own plan).
bool read_established(const QueryIdentity *identity, const Entry &entry, int64 *count);

} // namespace fast_count::exact_internal
