// Query memo: a backend-local map from a query text (with its parameters,
// the role and the settings that decide how it reads) to its analyzed
// identity, so that repeated calls skip parse, analysis and rewriting.
// Catalog changes invalidate entries (relcache and syscache callbacks);
// fast_count.memo_size bounds how many are kept.
//
// Remembered identities serve cache hits only: they hold no query tree, and
// a count always reads the text again under the locks the count takes.
#pragma once

#include "query_identity.hpp"

#include <cstddef>

namespace fast_count::query_memo {

struct Lookup {
    const QueryIdentity *identity;
    bool derived_now;  // identity was derived in this call (and has its count_query)
};

// Between begin_call() and end_call() the identity it returned stays valid
// (a callback may forget its entry meanwhile; it is freed later). Calls nest.
Lookup identity_for(const char *text, ArrayType *params);
void begin_call();
void end_call();

// Frees forgotten entries (an error may have skipped end_call()).
void at_transaction_end();

// A relation changed (ALTER, DROP, GRANT, VACUUM...; InvalidOid: any):
// texts that read it are analyzed again (a relcache callback).
void relation_changed(Oid relid);

std::size_t size();

// Moves on every invalidation the memo hears (relations, functions, types,
// ...): what was derived from a query tree before it moved may be stale.
// Its first call starts listening.
uint64 invalidations();

} // namespace fast_count::query_memo
