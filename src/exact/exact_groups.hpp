// Grouped exact counts (fast_count_register(..., group_by => ARRAY[...])):
// one exact count per group of the named columns of the query's table.
//
// A group is named by the bytes of its values (their datum images): the
// columns must have a default B-tree equality under which equal values have
// equal images (btequalimage, what B-tree deduplication relies on), so that
// bytes compare as the type's equality does, with no user code on the
// write path. A group's delta rows have a key of their own, derived from
// the registration's key and those bytes; a query "the registered one AND
// col = v" (also IN lists and IS NULL) is answered from the groups it names.
#pragma once

#include "query_identity.hpp"

extern "C" {
#include "postgres.h"

#include "executor/tuptable.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"
}

namespace fast_count::exact_groups {

constexpr int kMaxColumns = 8;
// An IN list (or several) names at most this many groups.
constexpr int kMaxGroupsPerQuery = 1000;

// The group columns as found in one relation (the table, or a partition
// whose column numbers differ).
struct Columns {
    int count = 0;
    AttrNumber attnum[kMaxColumns];
    int16 typlen[kMaxColumns];
    bool typbyval[kMaxColumns];
    Oid type[kMaxColumns];  // the base type (float and numeric values are made canonical)
};

// Checks group_by (text[] of column names) against table for a
// registration and returns them in the table (42703, 42701, 0A000, 22004,
// 2202E with what is wrong).
Columns check_columns(Oid table, ArrayType *group_by);

// The same columns found by name in rel (a partition of the table, or the
// table); false when one is missing.
bool find_columns(Relation rel, ArrayType *group_by, Columns *columns);
bool find_columns_of(Oid relid, ArrayType *group_by, Columns *columns);

// The registration's key: the query's key and the table's group columns.
pg_uuid_t registration_key(const pg_uuid_t &query_key, const Columns &columns);

// A group's key, from the registration's and the group's values.
pg_uuid_t group_key(const pg_uuid_t &registration, const bytea *group);

// The group of a row (palloc'd in the current memory context).
bytea *group_of_slot(const Columns &columns, TupleTableSlot *slot);

// Whether two groups are the same.
bool same_group(const bytea *a, const bytea *b);

// The group's values as text (their types' output functions), for
// fast_count_groups(): group_text() looks the columns' types and output
// functions up once, group_as_text() decodes each group with them.
struct GroupText {
    Oid table;
    int count;
    int16 typlen[kMaxColumns];
    bool typbyval[kMaxColumns];
    FmgrInfo output[kMaxColumns];
};
GroupText group_text(Oid table, ArrayType *group_by);
ArrayType *group_as_text(GroupText &text, const bytea *group);

// Counts identity's rows per group under snapshot (as count_under()
// counts them all): exact_store::GroupSum * with the groups' keys under
// identity->key, the registration's.
List *count_groups(const QueryIdentity *identity, const Columns &columns, Snapshot snapshot);

// Mode hook (mode_registry.hpp): which grouped registrations and groups
// could answer identity's row set, in identity->served_by.
void describe(QueryIdentity *identity, Query *row_set);

// A relcache invalidation: the table's grouped registrations are read
// again before their next use.
void relation_changed(Oid relid);

} // namespace fast_count::exact_groups
