// Transparent mode, remembering the identity of a plan's count: a cached
// plan (a prepared statement, PL/pgSQL) runs the same statement tree every
// time, so the identity derived from it (the key, and whether it may be
// served at all) holds as long as the role, the result-changing settings
// and the catalogs the memo watches (query_memo::invalidations) stay as they
// were when it was derived. A hit skips the derivation (copying, binding
// and hashing the tree) and goes straight to the shared lookups; the count
// itself is always looked up afresh, under the caller's snapshot.
// With parameters, the identity is kept with their values (bound by the
// client, as the extended protocol binds them) and serves an execution
// whose values are the same, byte for byte; parameters fetched by a hook
// (PL/pgSQL variables) are derived at every execution.
#pragma once

#include "query_identity.hpp"

namespace fast_count::transparent_cache {

// A number for a new FastCount plan node, unique in this backend.
uint64 new_plan_serial();

// What an identity is derived under, read BEFORE deriving it.
struct Moment {
    Oid user;
    uint64 settings;
    uint64 generation;
};
Moment now();

// Keeps a copy of identity (without its count_query) for plan serial,
// derived at moment with params (may be null) bound.
void remember(uint64 serial, const QueryIdentity *identity, const Moment &moment,
              ParamListInfo params = nullptr);

// The identity kept for serial when it still holds now and params have
// the values it was derived with, or nullptr. It has no count_query; valid
// until the next remember().
const QueryIdentity *find(uint64 serial, ParamListInfo params = nullptr);

// Plan time (the simple protocol plans the same text again and again): the
// identity derived for an equal statement (its rewritten tree: what the
// text meant then) of the same text, at the same moment, or nullptr; only
// statements accepted as counts are kept. Valid until the next
// remember_planned(), which returns its copy (or identity, when not kept).
// remember() of such an identity borrows it rather than copy it.
const QueryIdentity *find_planned(const char *text, const Query *statement, const Moment &moment);
const QueryIdentity *remember_planned(const char *text, const Query *statement,
                                      const QueryIdentity *identity, const Moment &moment);

} // namespace fast_count::transparent_cache
