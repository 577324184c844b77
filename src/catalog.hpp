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
    kGroupBy,  // 0.4.0
    kColumnCount = kGroupBy,
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

// Whether exact_deltas has the columns of grouped registrations (0.4.0).
bool groups_available();

// A row of exact_deltas: a writer's delta, or a base count (epoch set).
// A group's rows also name their registration and the group's values.
struct DeltaRow {
    pg_uuid_t key;
    int64 delta;
    bool base;
    int64 epoch;             // of a base row
    bool grouped = false;    // parent and group are set
    pg_uuid_t parent{};
    const bytea *group = nullptr;  // points into the tuple (or the caller's copy)
};

// Decodes a row of exact_deltas.
DeltaRow delta_row(Relation deltas, HeapTuple tuple);

// The key's rows that snapshot sees (nullptr: the latest committed and
// this transaction's own), through the index on key or, with bases_only,
// the partial index of base rows: visit(const DeltaRow &, HeapTuple).
template <typename Visit>
void scan_deltas(Relation deltas, const pg_uuid_t &key, Snapshot snapshot, bool bases_only,
                 Visit &&visit);

// Every row: visit(const DeltaRow &, HeapTuple).
template <typename Visit>
void scan_all_deltas(Relation deltas, Visit &&visit);

// The rows of every group of a grouped registration that snapshot sees
// (nullptr as for scan_deltas): visit(const DeltaRow &, HeapTuple).
template <typename Visit>
void scan_group_deltas(Relation deltas, const pg_uuid_t &parent, Snapshot snapshot,
                       Visit &&visit);

// Inserts a row and its index entries (the partial index only for a base
// row: CatalogTupleInsert() would ignore its predicate).
void insert_delta_row(Relation deltas, const DeltaRow &row);

// Deletes rows by their TIDs (ItemPointer).
void delete_rows(Relation rel, List *tids);

// A relcache callback (transaction_callbacks.hpp): forgets what was found
// when one of these relations changes.
void relation_changed(Oid relid);

namespace detail {
SysScanDesc begin_delta_scan(Relation deltas, const pg_uuid_t &key, Snapshot snapshot,
                             bool bases_only, ScanKeyData *key_data);
SysScanDesc begin_group_scan(Relation deltas, const pg_uuid_t &parent, Snapshot snapshot,
                             ScanKeyData *key_data);

template <typename Visit>
void drain(SysScanDesc scan, Visit &&visit)
{
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan)))
        visit(tuple);
    systable_endscan(scan);
}
} // namespace detail

template <typename Visit>
void scan_deltas(Relation deltas, const pg_uuid_t &key, Snapshot snapshot, bool bases_only,
                 Visit &&visit)
{
    ScanKeyData key_data;
    detail::drain(detail::begin_delta_scan(deltas, key, snapshot, bases_only, &key_data),
                  [&](HeapTuple tuple) { visit(delta_row(deltas, tuple), tuple); });
}

template <typename Visit>
void scan_group_deltas(Relation deltas, const pg_uuid_t &parent, Snapshot snapshot, Visit &&visit)
{
    ScanKeyData key_data;
    detail::drain(detail::begin_group_scan(deltas, parent, snapshot, &key_data),
                  [&](HeapTuple tuple) { visit(delta_row(deltas, tuple), tuple); });
}

template <typename Visit>
void scan_all_deltas(Relation deltas, Visit &&visit)
{
    detail::drain(systable_beginscan(deltas, InvalidOid, false, nullptr, 0, nullptr),
                  [&](HeapTuple tuple) { visit(delta_row(deltas, tuple), tuple); });
}

template <typename Visit>
void scan_entries(Relation entries, Visit &&visit)
{
    detail::drain(systable_beginscan(entries, InvalidOid, false, nullptr, 0, nullptr), visit);
}

} // namespace fast_count::catalog
