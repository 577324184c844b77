// The extension's own tables, fast_count.entries and exact mode's
// fast_count.exact_deltas with its indexes: found once per backend (again
// after a relcache invalidation of any of them), their columns found by
// name, and every read and write of their rows goes through here. Heap
// level: no privilege checks (ordinary users have none on these tables).
//
// A database may still be at an older layout than this library (0.1.0
// until ALTER EXTENSION ... UPDATE): entries columns it lacks read as NULL
// and are left out of writes, and exact mode is unavailable.
#pragma once

extern "C" {
#include "postgres.h"

#include "access/genam.h"
#include "access/htup.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"
}

namespace fast_count::catalog {

// The columns of fast_count.entries, as the library names them; a row is
// handled as values[c - 1] / nulls[c - 1] for column c, whatever their
// position in the table. Those after kBaseColumnCount came with 0.2.0.
enum Column : int {
    kKey = 1,
    kQuery,
    kParams,
    kSettings,
    kOwner,
    kRelids,
    kTables,
    kCount,
    kCountedAt,
    kExpiresAt,
    kCountDuration,
    kRegistered,
    kRefreshEvery,
    kNextRefreshAt,
    kRegisteredAt,
    kLastError,
    kLastErrorAt,
    kFailures,
    kBaseColumnCount = kFailures,
    kMode,
    kExactState,
    kExactPredicate,
    kIsEstimate,
    kChangeSignature,
    kCheckedAt,
    kColumnCount = kCheckedAt,
};

// The schema fast_count, or InvalidOid when the extension is not installed.
Oid schema_oid();

// fast_count.entries; raises 55000 when the extension is not installed
// (missing_ok: InvalidOid instead).
Oid entries_oid(bool missing_ok = false);

// Opens fast_count.entries (raises as entries_oid() does, and when its
// columns are not the ones this library knows).
Relation open_entries(LOCKMODE mode);

// Whether this database's entries table has column c.
bool has_column(Column c);

// A row of entries by column (absent columns: NULL).
void deform(Relation entries, HeapTuple tuple, Datum *values, bool *nulls);
// A new row (absent columns are left out, the table's others are NULL).
HeapTuple form(Relation entries, const Datum *values, const bool *nulls);
// The row with the columns marked in replace changed.
HeapTuple modify(Relation entries, HeapTuple tuple, const Datum *values, const bool *nulls,
                 const bool *replace);

// The current version of the key's row (a copy), or nullptr.
HeapTuple find_entry(Relation entries, const pg_uuid_t &key);
// Whether any version of the key's row has an inserter or deleter in
// progress other than this transaction.
bool entry_busy(Relation entries, const pg_uuid_t &key);

// Every current row of entries: visit(HeapTuple).
template <typename Visit>
void scan_entries(Relation entries, Visit &&visit);

// --- fast_count.exact_deltas (0.2.0 and later) ---------------------------

// Whether this database has exact mode's tables and entries columns.
bool exact_available();

// Raises 55000 naming the version exact mode needs unless exact_available().
void require_exact();

// Opens exact_deltas (raises as require_exact() does).
Relation open_deltas(LOCKMODE mode);

struct DeltaColumns {
    AttrNumber key, delta, epoch;
};
const DeltaColumns &delta_columns();

// The index on key of every row, and the partial one of base rows (epoch
// set); with their IndexInfo for inserts.
Oid deltas_key_index();
Oid deltas_base_index();
IndexInfo *deltas_index_info(Relation index);

// A relcache callback (transaction_callbacks.hpp): forgets what was found
// when one of these relations changes.
void relation_changed(Oid relid);

template <typename Visit>
void scan_entries(Relation entries, Visit &&visit)
{
    SysScanDesc scan = systable_beginscan(entries, InvalidOid, false, nullptr, 0, nullptr);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan)))
        visit(tuple);
    systable_endscan(scan);
}

} // namespace fast_count::catalog
