// Query identity: reads a query text the way the caller would run it,
// rejects anything but one read-only SELECT, and derives the cache key from
// the rewritten tree (relation OIDs, constant values, view definitions; never
// the raw text), the settings that can change its result, the definitions
// of the user-defined objects it uses and, when it runs user code, the role.
#pragma once

extern "C" {
#include "postgres.h"

#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/uuid.h"
}

namespace fast_count {

// An entry of a mode that can answer a row set it is not the key of: a
// grouped exact registration (key) and the keys of the groups the row set
// names, whose counts add up to its count.
struct ServedBy {
    pg_uuid_t key;
    int parts;
    pg_uuid_t part[FLEXIBLE_ARRAY_MEMBER];
};

struct QueryIdentity {
    pg_uuid_t key;            // 128 bits of SHA-256 over the canonical tree
    const char *query_text;   // the text as the caller gave it
    ArrayType *params;        // text[] of $n values, or nullptr
    Query *count_query;       // rewritten "SELECT count(*) FROM (<query>) q", ready to plan
    List *permission_rtes;    // every RTE_RELATION the executor would check
    List *relids;             // OIDs of the relations the query names
    List *tables;             // OIDs of the relations read once views are expanded
    const char *uncacheable;  // why the count must be live, or nullptr
    bool time_dependent;      // the clock, a stable or a user-defined function can change
                              // the result while the tables stay the same
    List *name_hashes;        // RELNAMENSP hashes of every (name, schema) the text could
                              // resolve to: a relation appearing there changes its meaning
    List *served_by;          // ServedBy *: where else the count can be read (modes decide)
};

// A deep copy in the current memory context, without count_query.
QueryIdentity *copy_identity(const QueryIdentity *identity);

// Parses, validates and analyzes text (with params for $1..$n, may be null).
// Errors carry SQLSTATEs; nothing is cached or registered by this step.
QueryIdentity *derive_identity(const char *text, ArrayType *params);

// The session's settings that can change a result (see session_settings.hpp),
// stored with registrations and applied by the worker (inside a
// NewGUCNestLevel(), which AtEOXact_GUC() undoes); a setting that cannot be
// applied is an error.
ArrayType *capture_reading_settings();
void apply_reading_settings(ArrayType *settings);

// Transparent mode: the identity of a row set the caller's statement
// already analyzed and rewritten (row_set is a copy; it is modified), with
// its $n bound from params, as derive_identity() would give for a text
// reading that row set: the same key, tables and refusals. nullptr when a
// parameter cannot be bound (its value is missing or of another type).
// text is the statement's, for messages and the entry's row.
QueryIdentity *identity_of_row_set(Query *row_set, ParamListInfo params, const char *text);

// Drops from a copy of a query tree what cannot change how many rows it
// returns (its target list and ORDER BY, when nothing in them counts), so
// that spellings of one row set share a key.
void strip_row_set_spelling(Query *query);

// The key a text reading exactly row_set would have (a mode that answers a
// row set from another entry computes that entry's key this way).
pg_uuid_t key_of_row_set(Query *row_set);

// The key as text (uuid form), for messages.
char *key_to_cstring(const pg_uuid_t &key);

} // namespace fast_count
