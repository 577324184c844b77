// Exact mode's registration, called by fast_count_register() and
// fast_count_unregister() (sql_api.cpp) under the entry's key lock.
#pragma once

#include "query_identity.hpp"

extern "C" {
#include "fmgr.h"
#include "utils/array.h"
#include "utils/timestamp.h"
}

namespace fast_count::exact_mode {

enum class Mode { kPeriodic, kExact };

// The mode argument of fast_count_register() (NULL or absent: periodic).
Mode mode_argument(FunctionCallInfo fcinfo, int argno);

// What an exact registration of a query needs: its one table and its WHERE
// clause (nodeToString, or nullptr when it counts every row).
struct Eligibility {
    Oid table;
    char *predicate;
    ArrayType *group_by = nullptr;  // a grouped registration's columns (text[])
};

// Raises 0A000 naming why the query cannot be counted exactly (and 42501
// without the privilege to create a trigger on its table).
Eligibility check_eligible(const QueryIdentity *identity);

// The group_by argument of fast_count_register() and friends (NULL or
// absent: nullptr).
ArrayType *group_by_argument(FunctionCallInfo fcinfo, int argno);

// For a grouped registration (group_by not nullptr): checks its columns
// against the eligible query's table, raising as registering must, and
// makes identity's key the grouped registration's.
void make_grouped(QueryIdentity *identity, Eligibility *eligibility, ArrayType *group_by);

// identity's key for group_by without raising; false when the columns are
// not those of its table.
bool grouped_key(QueryIdentity *identity, ArrayType *group_by);

// Whether key is registered with these group columns (nullptr: none).
bool registered_with_groups(const pg_uuid_t &key, ArrayType *group_by);

// After cache_store::register_query(), under the key lock: makes the entry
// exact (triggers, state 'backfill') or, for mode periodic, turns an exact
// entry back into a periodic one. eligibility is only read for kExact.
void apply(const QueryIdentity *identity, Mode mode, const Eligibility &eligibility);

// Before an exact entry is removed (unregister), under the key lock: its
// delta rows go, and its table's triggers when no other exact query needs
// them.
void forget(const pg_uuid_t &key);

} // namespace fast_count::exact_mode

namespace fast_count::exact_internal {

// check_eligible() without raising: false and *why when not eligible.
bool eligible(const QueryIdentity *identity, exact_mode::Eligibility *out, const char **why);

} // namespace fast_count::exact_internal
