#include "catalog.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace fast_count::catalog {

namespace {

const char *const kColumnNames[kColumnCount] = {
    "key",           "query",          "params",        "settings",   "owner",
    "relids",        "tables",         "count",         "counted_at", "expires_at",
    "count_duration", "registered",    "refresh_every", "next_refresh_at",
    "registered_at", "last_error",     "last_error_at", "failures",
    "mode",          "exact_state",    "exact_predicate", "is_estimate", "change_signature",
    "checked_at",    "group_by",
};

// The columns exact mode needs on entries.
constexpr Column kExactColumns[] = {kMode, kExactState, kExactPredicate};

struct DeltaColumns {
    AttrNumber key, delta, epoch;
    AttrNumber parent, group;  // 0.4.0; 0 when absent
};

// What one backend found. An invalidation of one of these relations only
// marks it stale (relation_changed()): it is looked up again at the next
// find_entries() / find_deltas(). Clearing it on the spot would pull the OIDs
// and column numbers from under an operation that is using them: an
// invalidation is processed whenever a lock is taken for the first time in a
// transaction (opening an index to insert a delta row, say), and one arrives
// each time autovacuum updates exact_deltas' statistics. What was found stays
// right meanwhile: our relations change only under locks that conflict with
// the operation's own.
struct Found {
    bool entries = false;  // entries, its key index and its columns
    Oid schema = InvalidOid;
    Oid entries_oid = InvalidOid;
    Oid entries_key_index = InvalidOid;
    AttrNumber attno[kColumnCount];  // by column; 0 when absent

    bool deltas = false;  // exact_deltas and its indexes (looked for until found)
    Oid deltas_oid = InvalidOid;
    Oid deltas_key_index = InvalidOid;
    Oid deltas_base_index = InvalidOid;
    Oid deltas_parent_index = InvalidOid;  // 0.4.0
    DeltaColumns delta_columns{0, 0, 0, 0, 0};
    // (CacheMemoryContext; left there after an invalidation of our own
    // tables, which is rare: a few bytes each time.)
    IndexInfo *key_index_info = nullptr;
    IndexInfo *base_index_info = nullptr;
    IndexInfo *parent_index_info = nullptr;
};
Found found;
bool entries_stale = false;
bool deltas_stale = false;

[[noreturn]] void not_installed()
{
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("extension \"fast_count\" is not installed in this database"),
                    errhint("Run CREATE EXTENSION fast_count.")));
    pg_unreachable();
}

[[noreturn]] void unexpected_layout()
{
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("fast_count.entries does not have the layout this library expects"),
                    errhint("Run ALTER EXTENSION fast_count UPDATE, or install the library "
                            "that matches the installed extension version.")));
    pg_unreachable();
}

Oid relation_in_schema(const char *name)
{
    return OidIsValid(found.schema) ? get_relname_relid(name, found.schema) : InvalidOid;
}

// Columns by name: every column this library knows up to 0.1.0's must be
// there, later ones may be missing, and a column it does not know means a
// newer layout than the library.
void find_columns(Relation rel)
{
    TupleDesc desc = RelationGetDescr(rel);
    for (int c = 0; c < kColumnCount; c++)
        found.attno[c] = 0;
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        if (attr->attisdropped)
            continue;
        int c = 0;
        while (c < kColumnCount && strcmp(NameStr(attr->attname), kColumnNames[c]) != 0)
            c++;
        if (c == kColumnCount)
            unexpected_layout();
        found.attno[c] = attr->attnum;
    }
    for (int c = 0; c < kBaseColumnCount; c++)
        if (found.attno[c] == 0)
            unexpected_layout();
}

void find_entries()
{
    if (found.entries && !entries_stale)
        return;
    // Cleared first: an invalidation processed below marks it again.
    entries_stale = false;
    Oid schema = get_namespace_oid("fast_count", true);
    Oid entries = OidIsValid(schema) ? get_relname_relid("entries", schema) : InvalidOid;
    Oid key_index = OidIsValid(schema) ? get_relname_relid("entries_pkey", schema) : InvalidOid;
    if (!OidIsValid(entries) || !OidIsValid(key_index)) {
        found.entries = false;
        found.deltas = false;
        return;
    }
    // Not found until its columns are (find_columns() raises on a layout it
    // does not know).
    found.entries = false;
    Relation rel = table_open(entries, AccessShareLock);
    found.schema = schema;
    found.entries_oid = entries;
    found.entries_key_index = key_index;
    find_columns(rel);
    table_close(rel, AccessShareLock);
    found.entries = true;
}

AttrNumber delta_column(TupleDesc desc, const char *name)
{
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        if (!attr->attisdropped && strcmp(NameStr(attr->attname), name) == 0)
            return attr->attnum;
    }
    return 0;
}

void find_deltas()
{
    find_entries();
    if (found.deltas && !deltas_stale)
        return;
    deltas_stale = false;
    Oid deltas = relation_in_schema("exact_deltas");
    Oid key_index = relation_in_schema("exact_deltas_key_idx");
    Oid base_index = relation_in_schema("exact_deltas_base_idx");
    Oid parent_index = relation_in_schema("exact_deltas_parent_idx");
    if (!found.entries || !OidIsValid(deltas) || !OidIsValid(key_index) ||
        !OidIsValid(base_index)) {
        found.deltas = false;
        return;
    }
    Relation rel = table_open(deltas, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    DeltaColumns columns{delta_column(desc, "key"), delta_column(desc, "delta"),
                         delta_column(desc, "epoch"), delta_column(desc, "parent"),
                         delta_column(desc, "grp")};
    table_close(rel, AccessShareLock);
    // An index built again under another OID needs its IndexInfo again (the
    // old one stays in CacheMemoryContext: a few bytes, rarely).
    if (key_index != found.deltas_key_index)
        found.key_index_info = nullptr;
    if (base_index != found.deltas_base_index)
        found.base_index_info = nullptr;
    if (parent_index != found.deltas_parent_index)
        found.parent_index_info = nullptr;
    found.deltas_oid = deltas;
    found.deltas_key_index = key_index;
    found.deltas_base_index = base_index;
    found.deltas_parent_index = parent_index;
    found.delta_columns = columns;
    found.deltas = true;
}

void scan_key(ScanKeyData *key_data, AttrNumber attno, const pg_uuid_t &key)
{
    ScanKeyInit(key_data, attno, BTEqualStrategyNumber, F_UUID_EQ,
                UUIDPGetDatum(const_cast<pg_uuid_t *>(&key)));
}

// Physical arrays for a row of entries: on the stack for any layout this
// library made, palloc'd beyond.
constexpr int kInlineColumns = 64;
struct Physical {
    Datum inline_values[kInlineColumns];
    bool inline_nulls[kInlineColumns];
    bool inline_replace[kInlineColumns];
    Datum *values = inline_values;
    bool *nulls = inline_nulls;
    bool *replace = inline_replace;

    explicit Physical(int natts)
    {
        if (natts > kInlineColumns) {
            values = static_cast<Datum *>(palloc(sizeof(Datum) * natts));
            nulls = static_cast<bool *>(palloc(sizeof(bool) * natts));
            replace = static_cast<bool *>(palloc(sizeof(bool) * natts));
        }
        for (int i = 0; i < natts; i++) {
            values[i] = 0;
            nulls[i] = true;
            replace[i] = false;
        }
    }
};

} // namespace

Oid schema_oid()
{
    find_entries();
    return found.schema;
}

Oid entries_oid(bool missing_ok)
{
    find_entries();
    if (!found.entries && !missing_ok)
        not_installed();
    return found.entries ? found.entries_oid : InvalidOid;
}

Relation open_entries(LOCKMODE mode)
{
    Relation rel = table_open(entries_oid(), mode);
    // An invalidation processed while the lock was taken may have cleared
    // what was found.
    if (!found.entries)
        (void) entries_oid();
    return rel;
}

bool has_column(Column c)
{
    find_entries();
    return found.entries && found.attno[c - 1] != 0;
}

namespace {

// The column's position in this relation, or 0 (what was found may have
// been forgotten by an invalidation since the relation was opened).
AttrNumber position(Relation entries, int c)
{
    find_entries();
    AttrNumber attno = found.attno[c];
    return attno <= RelationGetDescr(entries)->natts ? attno : 0;
}

} // namespace

void deform(Relation entries, HeapTuple tuple, Datum *values, bool *nulls)
{
    Physical row(RelationGetDescr(entries)->natts);
    heap_deform_tuple(tuple, RelationGetDescr(entries), row.values, row.nulls);
    for (int c = 0; c < kColumnCount; c++) {
        AttrNumber attno = position(entries, c);
        values[c] = attno == 0 ? 0 : row.values[attno - 1];
        nulls[c] = attno == 0 || row.nulls[attno - 1];
    }
}

HeapTuple form(Relation entries, const Datum *values, const bool *nulls)
{
    Physical row(RelationGetDescr(entries)->natts);
    for (int c = 0; c < kColumnCount; c++) {
        AttrNumber attno = position(entries, c);
        if (attno != 0) {
            row.values[attno - 1] = values[c];
            row.nulls[attno - 1] = nulls[c];
        }
    }
    return heap_form_tuple(RelationGetDescr(entries), row.values, row.nulls);
}

HeapTuple modify(Relation entries, HeapTuple tuple, const Datum *values, const bool *nulls,
                 const bool *replace)
{
    Physical row(RelationGetDescr(entries)->natts);
    for (int c = 0; c < kColumnCount; c++) {
        AttrNumber attno = position(entries, c);
        if (attno != 0 && replace[c]) {
            row.values[attno - 1] = values[c];
            row.nulls[attno - 1] = nulls[c];
            row.replace[attno - 1] = true;
        }
    }
    return heap_modify_tuple(tuple, RelationGetDescr(entries), row.values, row.nulls, row.replace);
}

HeapTuple find_entry(Relation entries, const pg_uuid_t &key)
{
    ScanKeyData key_data;
    scan_key(&key_data, position(entries, kKey - 1), key);
    SysScanDesc scan =
        systable_beginscan(entries, found.entries_key_index, true, nullptr, 1, &key_data);
    HeapTuple tuple = systable_getnext(scan);
    HeapTuple copy = HeapTupleIsValid(tuple) ? heap_copytuple(tuple) : nullptr;
    systable_endscan(scan);
    return copy;
}

bool entry_busy(Relation entries, const pg_uuid_t &key)
{
    ScanKeyData key_data;
    scan_key(&key_data, position(entries, kKey - 1), key);
    SnapshotData dirty;
    InitDirtySnapshot(dirty);
    SysScanDesc scan =
        systable_beginscan(entries, found.entries_key_index, true, &dirty, 1, &key_data);
    bool busy = false;
    // The dirty snapshot names the in-progress inserter or deleter of each
    // version it returns; this transaction's own versions name none.
    while (!busy && HeapTupleIsValid(systable_getnext(scan)))
        busy = TransactionIdIsValid(dirty.xmin) || TransactionIdIsValid(dirty.xmax);
    systable_endscan(scan);
    return busy;
}

bool exact_available()
{
    find_deltas();
    if (!found.deltas)
        return false;
    for (Column c : kExactColumns)
        if (found.attno[c - 1] == 0)
            return false;
    const DeltaColumns &columns = found.delta_columns;
    return columns.key != 0 && columns.delta != 0 && columns.epoch != 0;
}

bool groups_available()
{
    if (!exact_available())
        return false;
    const DeltaColumns &columns = found.delta_columns;
    return columns.parent != 0 && columns.group != 0 && OidIsValid(found.deltas_parent_index) &&
           found.attno[kGroupBy - 1] != 0;
}

void require_exact()
{
    if (!exact_available())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("exact mode needs version 0.2.0 of extension \"fast_count\""),
                        errhint("Run ALTER EXTENSION fast_count UPDATE.")));
}

Relation open_deltas(LOCKMODE mode)
{
    require_exact();
    Relation rel = table_open(found.deltas_oid, mode);
    if (!found.deltas)
        (void) exact_available();
    return rel;
}

DeltaRow delta_row(Relation deltas, HeapTuple tuple)
{
    TupleDesc desc = RelationGetDescr(deltas);
    const DeltaColumns &columns = found.delta_columns;
    bool isnull;
    DeltaRow row;
    row.key = *DatumGetUUIDP(heap_getattr(tuple, columns.key, desc, &isnull));
    row.delta = DatumGetInt64(heap_getattr(tuple, columns.delta, desc, &isnull));
    Datum epoch = heap_getattr(tuple, columns.epoch, desc, &isnull);
    row.base = !isnull;
    row.epoch = isnull ? 0 : DatumGetInt64(epoch);
    if (columns.parent != 0 && columns.group != 0) {
        Datum parent = heap_getattr(tuple, columns.parent, desc, &isnull);
        if (!isnull) {
            Datum group = heap_getattr(tuple, columns.group, desc, &isnull);
            if (!isnull) {
                row.grouped = true;
                row.parent = *DatumGetUUIDP(parent);
                row.group = DatumGetByteaPP(group);
            }
        }
    }
    return row;
}

namespace detail {

SysScanDesc begin_delta_scan(Relation deltas, const pg_uuid_t &key, Snapshot snapshot,
                             bool bases_only, ScanKeyData *key_data)
{
    scan_key(key_data, found.delta_columns.key, key);
    Oid index = bases_only ? found.deltas_base_index : found.deltas_key_index;
    return systable_beginscan(deltas, index, true, snapshot, 1, key_data);
}

SysScanDesc begin_group_scan(Relation deltas, const pg_uuid_t &parent, Snapshot snapshot,
                             ScanKeyData *key_data)
{
    scan_key(key_data, found.delta_columns.parent, parent);
    return systable_beginscan(deltas, found.deltas_parent_index, true, snapshot, 1, key_data);
}

} // namespace detail

namespace {

void index_row(Relation heap, HeapTuple tuple, const pg_uuid_t &key, Oid index_oid,
               IndexInfo **info)
{
    Relation index = index_open(index_oid, RowExclusiveLock);
    if (*info == nullptr) {
        MemoryContext caller = MemoryContextSwitchTo(CacheMemoryContext);
        *info = BuildIndexInfo(index);
        MemoryContextSwitchTo(caller);
    }
    Datum values[1] = {UUIDPGetDatum(const_cast<pg_uuid_t *>(&key))};
    bool isnull[1] = {false};
    (void) index_insert(index, values, isnull, &tuple->t_self, heap, UNIQUE_CHECK_NO, false, *info);
    index_close(index, RowExclusiveLock);
}

} // namespace

void insert_delta_row(Relation deltas, const DeltaRow &row)
{
    const DeltaColumns &columns = found.delta_columns;
    int natts = RelationGetDescr(deltas)->natts;
    Physical physical(natts);
    physical.values[columns.key - 1] = UUIDPGetDatum(const_cast<pg_uuid_t *>(&row.key));
    physical.nulls[columns.key - 1] = false;
    physical.values[columns.delta - 1] = Int64GetDatum(row.delta);
    physical.nulls[columns.delta - 1] = false;
    physical.values[columns.epoch - 1] = Int64GetDatum(row.epoch);
    physical.nulls[columns.epoch - 1] = !row.base;
    if (row.grouped) {
        if (columns.parent == 0 || columns.group == 0)
            require_exact();  // not reached: grouped rows need the 0.4.0 layout
        physical.values[columns.parent - 1] = UUIDPGetDatum(const_cast<pg_uuid_t *>(&row.parent));
        physical.nulls[columns.parent - 1] = false;
        physical.values[columns.group - 1] = PointerGetDatum(row.group);
        physical.nulls[columns.group - 1] = false;
    } else {
        if (columns.parent != 0)
            physical.nulls[columns.parent - 1] = true;
        if (columns.group != 0)
            physical.nulls[columns.group - 1] = true;
    }
    HeapTuple tuple = heap_form_tuple(RelationGetDescr(deltas), physical.values, physical.nulls);
    heap_insert(deltas, tuple, GetCurrentCommandId(true), 0, nullptr);
    index_row(deltas, tuple, row.key, found.deltas_key_index, &found.key_index_info);
    if (row.base)
        index_row(deltas, tuple, row.key, found.deltas_base_index, &found.base_index_info);
    if (row.grouped)
        index_row(deltas, tuple, row.parent, found.deltas_parent_index, &found.parent_index_info);
}

void delete_rows(Relation rel, List *tids)
{
    ListCell *lc;
    foreach (lc, tids)
        CatalogTupleDelete(rel, static_cast<ItemPointer>(lfirst(lc)));
}

void relation_changed(Oid relid)
{
    if (relid == InvalidOid || relid == found.entries_oid || relid == found.entries_key_index ||
        relid == found.deltas_oid || relid == found.deltas_key_index ||
        relid == found.deltas_base_index || relid == found.deltas_parent_index) {
        // Nothing else here: this runs inside whatever took a lock.
        entries_stale = true;
        deltas_stale = true;
    }
}

} // namespace fast_count::catalog
