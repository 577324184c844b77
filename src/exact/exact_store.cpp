#include "exact/exact_store.hpp"

#include "cache_store.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "catalog/index.h"
#include "nodes/execnodes.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace fast_count::exact_store {

namespace {

// Columns of fast_count.entries that exact mode reads or writes, found by
// name so that this file does not depend on the column order.
struct EntriesLayout {
    AttrNumber key, query, params, settings, owner, tables, next_refresh_at, last_error,
        last_error_at, failures, mode, exact_state, exact_predicate;
};

constexpr AttrNumber kDeltaKey = 1;
constexpr AttrNumber kDeltaDelta = 2;
constexpr AttrNumber kDeltaEpoch = 3;
constexpr int kDeltaColumns = 3;

Oid entries_oid = InvalidOid;
Oid entries_index_oid = InvalidOid;
Oid deltas_oid = InvalidOid;
Oid deltas_index_oid = InvalidOid;
Oid deltas_base_index_oid = InvalidOid;
bool resolved = false;
bool callback_registered = false;
EntriesLayout layout;
// IndexInfo of the two indexes of exact_deltas (CacheMemoryContext).
IndexInfo *deltas_index_info = nullptr;
IndexInfo *deltas_base_index_info = nullptr;

void forget_oids(Datum, Oid relid)
{
    if (relid == InvalidOid || relid == entries_oid || relid == entries_index_oid ||
        relid == deltas_oid || relid == deltas_index_oid || relid == deltas_base_index_oid) {
        resolved = false;
        // (Freed with CacheMemoryContext's other leftovers: a few bytes per
        // invalidation of our own tables, which is rare.)
        deltas_index_info = nullptr;
        deltas_base_index_info = nullptr;
    }
}

AttrNumber column(TupleDesc desc, const char *name)
{
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        if (!attr->attisdropped && strcmp(NameStr(attr->attname), name) == 0)
            return static_cast<AttrNumber>(i + 1);
    }
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("fast_count.entries has no column \"%s\"", name),
                    errhint("Run ALTER EXTENSION fast_count UPDATE.")));
    pg_unreachable();
}

// Resolves the tables; false when this database has no exact mode (the
// extension is missing or still at 0.1.0).
bool resolve(bool must)
{
    if (resolved)
        return true;
    if (!callback_registered) {
        CacheRegisterRelcacheCallback(forget_oids, 0);
        callback_registered = true;
    }
    Oid schema = get_namespace_oid("fast_count", true);
    Oid entries = OidIsValid(schema) ? get_relname_relid("entries", schema) : InvalidOid;
    Oid entries_index = OidIsValid(schema) ? get_relname_relid("entries_pkey", schema) : InvalidOid;
    Oid deltas = OidIsValid(schema) ? get_relname_relid("exact_deltas", schema) : InvalidOid;
    Oid deltas_index =
        OidIsValid(schema) ? get_relname_relid("exact_deltas_key_idx", schema) : InvalidOid;
    Oid deltas_base_index =
        OidIsValid(schema) ? get_relname_relid("exact_deltas_base_idx", schema) : InvalidOid;
    if (!OidIsValid(entries) || !OidIsValid(entries_index) || !OidIsValid(deltas) ||
        !OidIsValid(deltas_index) || !OidIsValid(deltas_base_index)) {
        if (!must)
            return false;
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("exact mode needs version 0.2.0 of extension \"fast_count\""),
                        errhint("Run ALTER EXTENSION fast_count UPDATE.")));
    }
    Relation rel = table_open(entries, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    layout.key = column(desc, "key");
    layout.query = column(desc, "query");
    layout.params = column(desc, "params");
    layout.settings = column(desc, "settings");
    layout.owner = column(desc, "owner");
    layout.tables = column(desc, "tables");
    layout.next_refresh_at = column(desc, "next_refresh_at");
    layout.last_error = column(desc, "last_error");
    layout.last_error_at = column(desc, "last_error_at");
    layout.failures = column(desc, "failures");
    layout.mode = column(desc, "mode");
    layout.exact_state = column(desc, "exact_state");
    layout.exact_predicate = column(desc, "exact_predicate");
    table_close(rel, AccessShareLock);

    entries_oid = entries;
    entries_index_oid = entries_index;
    deltas_oid = deltas;
    deltas_index_oid = deltas_index;
    deltas_base_index_oid = deltas_base_index;
    resolved = true;
    return true;
}

State parse_state(const char *text)
{
    if (strcmp(text, "backfill") == 0)
        return State::kBackfill;
    if (strcmp(text, "ready") == 0)
        return State::kReady;
    if (strcmp(text, "rederive") == 0)
        return State::kRederive;
    return State::kNone;
}

void key_scan_key(ScanKeyData *scan_key, AttrNumber attno, const pg_uuid_t &key)
{
    ScanKeyInit(scan_key, attno, BTEqualStrategyNumber, F_UUID_EQ,
                UUIDPGetDatum(const_cast<pg_uuid_t *>(&key)));
}

HeapTuple find_entry(Relation rel, const pg_uuid_t &key)
{
    ScanKeyData scan_key;
    key_scan_key(&scan_key, layout.key, key);
    SysScanDesc scan = systable_beginscan(rel, entries_index_oid, true, nullptr, 1, &scan_key);
    HeapTuple tuple = systable_getnext(scan);
    HeapTuple copy = HeapTupleIsValid(tuple) ? heap_copytuple(tuple) : nullptr;
    systable_endscan(scan);
    return copy;
}

Oid single_oid(Datum array)
{
    ArrayType *oids = DatumGetArrayTypeP(array);
    Datum *items;
    bool *nulls;
    int n;
    deconstruct_array(oids, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &items, &nulls, &n);
    return (n == 1 && !nulls[0]) ? DatumGetObjectId(items[0]) : InvalidOid;
}

void decode(Relation rel, HeapTuple tuple, ExactEntry *entry, bool with_text)
{
    TupleDesc desc = RelationGetDescr(rel);
    auto get = [&](AttrNumber attno, bool *isnull) {
        return heap_getattr(tuple, attno, desc, isnull);
    };
    bool isnull;
    memset(entry, 0, sizeof(*entry));
    entry->key = *DatumGetUUIDP(get(layout.key, &isnull));
    Datum mode = get(layout.mode, &isnull);
    entry->exact = !isnull && strcmp(TextDatumGetCString(mode), "exact") == 0;
    Datum state = get(layout.exact_state, &isnull);
    entry->state = isnull ? State::kNone : parse_state(TextDatumGetCString(state));
    Datum predicate = get(layout.exact_predicate, &isnull);
    entry->predicate = isnull ? nullptr : TextDatumGetCString(predicate);
    Datum tables = get(layout.tables, &isnull);
    entry->table = isnull ? InvalidOid : single_oid(tables);
    entry->owner = DatumGetObjectId(get(layout.owner, &isnull));
    Datum failures = get(layout.failures, &isnull);
    entry->failures = isnull ? 0 : DatumGetInt32(failures);
    Datum next = get(layout.next_refresh_at, &isnull);
    entry->has_next_attempt = !isnull;
    entry->next_attempt = isnull ? 0 : DatumGetTimestampTz(next);
    (void) get(layout.last_error, &isnull);
    entry->has_error = !isnull;
    if (with_text) {
        entry->query = TextDatumGetCString(get(layout.query, &isnull));
        Datum params = get(layout.params, &isnull);
        entry->params = isnull ? nullptr : DatumGetArrayTypePCopy(params);
        entry->settings = DatumGetArrayTypePCopy(get(layout.settings, &isnull));
    }
}

} // namespace

const char *state_name(State state)
{
    switch (state) {
    case State::kBackfill:
        return "backfill";
    case State::kReady:
        return "ready";
    case State::kRederive:
        return "rederive";
    case State::kNone:
        break;
    }
    return "none";
}

bool available()
{
    return resolve(false);
}

bool lookup(const pg_uuid_t &key, ExactEntry *entry, bool with_text)
{
    resolve(true);
    Relation rel = table_open(entries_oid, AccessShareLock);
    HeapTuple tuple = find_entry(rel, key);
    if (tuple != nullptr)
        decode(rel, tuple, entry, with_text);
    table_close(rel, AccessShareLock);
    return tuple != nullptr;
}

List *exact_entries(Oid table)
{
    if (!resolve(false))
        return NIL;
    List *result = NIL;
    Relation rel = table_open(entries_oid, AccessShareLock);
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 0, nullptr);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        bool isnull;
        Datum mode = heap_getattr(tuple, layout.mode, RelationGetDescr(rel), &isnull);
        if (isnull || strcmp(TextDatumGetCString(mode), "exact") != 0)
            continue;
        auto *entry = static_cast<ExactEntry *>(palloc(sizeof(ExactEntry)));
        decode(rel, tuple, entry, false);
        if (OidIsValid(table) && entry->table != table) {
            pfree(entry);
            continue;
        }
        result = lappend(result, entry);
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return result;
}

void update(const pg_uuid_t &key, const Change &change)
{
    resolve(true);
    cache_store::require_row_free(key);  // rather than wait for an open transaction
    Relation rel = table_open(entries_oid, RowExclusiveLock);
    HeapTuple tuple = find_entry(rel, key);
    if (tuple == nullptr) {
        table_close(rel, RowExclusiveLock);
        return;
    }
    TupleDesc desc = RelationGetDescr(rel);
    Datum *values = static_cast<Datum *>(palloc0(sizeof(Datum) * desc->natts));
    bool *nulls = static_cast<bool *>(palloc0(sizeof(bool) * desc->natts));
    bool *replace = static_cast<bool *>(palloc0(sizeof(bool) * desc->natts));
    auto set = [&](AttrNumber attno, Datum value, bool isnull) {
        values[attno - 1] = value;
        nulls[attno - 1] = isnull;
        replace[attno - 1] = true;
    };
    if (change.mode != nullptr)
        set(layout.mode, CStringGetTextDatum(change.mode), false);
    if (change.set_state) {
        if (change.state == State::kNone)
            set(layout.exact_state, 0, true);
        else
            set(layout.exact_state, CStringGetTextDatum(state_name(change.state)), false);
    }
    if (change.set_predicate) {
        if (change.predicate == nullptr)
            set(layout.exact_predicate, 0, true);
        else
            set(layout.exact_predicate, CStringGetTextDatum(change.predicate), false);
    }
    if (change.clear_error) {
        set(layout.last_error, 0, true);
        set(layout.last_error_at, 0, true);
        set(layout.failures, Int32GetDatum(0), false);
    }
    if (change.error != nullptr) {
        bool isnull;
        Datum failures = heap_getattr(tuple, layout.failures, desc, &isnull);
        set(layout.last_error, CStringGetTextDatum(change.error), false);
        set(layout.last_error_at, TimestampTzGetDatum(GetCurrentTimestamp()), false);
        set(layout.failures, Int32GetDatum((isnull ? 0 : DatumGetInt32(failures)) + 1), false);
        set(layout.next_refresh_at, TimestampTzGetDatum(change.retry_at), false);
    }
    HeapTuple updated = heap_modify_tuple(tuple, desc, values, nulls, replace);
    CatalogTupleUpdate(rel, &tuple->t_self, updated);
    CommandCounterIncrement();
    table_close(rel, RowExclusiveLock);
    // Readers go by the shared index first: it must learn the new mode.
    cache_store::publish_at_commit(key);
}

// --- fast_count.exact_deltas ---------------------------------------------

namespace {

template <typename Visit>
void scan_key_rows(Relation rel, const pg_uuid_t &key, Snapshot snapshot, Visit &&visit)
{
    ScanKeyData scan_key;
    key_scan_key(&scan_key, kDeltaKey, key);
    SysScanDesc scan = systable_beginscan(rel, deltas_index_oid, true, snapshot, 1, &scan_key);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan)))
        visit(tuple);
    systable_endscan(scan);
}

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

// Inserts a row into exact_deltas (opened by the caller) and its index
// entries. Not CatalogTupleInsert(): that ignores the predicate of the
// partial index of base rows, which a writer's row must stay out of.
void insert_row(Relation rel, const pg_uuid_t &key, int64 delta, bool base, int64 epoch)
{
    Datum values[kDeltaColumns];
    bool nulls[kDeltaColumns] = {false, false, !base};
    values[kDeltaKey - 1] = UUIDPGetDatum(const_cast<pg_uuid_t *>(&key));
    values[kDeltaDelta - 1] = Int64GetDatum(delta);
    values[kDeltaEpoch - 1] = Int64GetDatum(epoch);
    HeapTuple tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
    heap_insert(rel, tuple, GetCurrentCommandId(true), 0, nullptr);
    index_row(rel, tuple, key, deltas_index_oid, &deltas_index_info);
    if (base)
        index_row(rel, tuple, key, deltas_base_index_oid, &deltas_base_index_info);
}

void insert_row(const pg_uuid_t &key, int64 delta, bool base)
{
    resolve(true);
    Relation rel = table_open(deltas_oid, RowExclusiveLock);
    int64 epoch = base ? static_cast<int64>(U64FromFullTransactionId(GetTopFullTransactionId())) : 0;
    insert_row(rel, key, delta, base, epoch);
    table_close(rel, RowExclusiveLock);
}

} // namespace

Sum sum(const pg_uuid_t &key, Snapshot snapshot)
{
    Sum result;
    resolve(true);
    Relation rel = table_open(deltas_oid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    scan_key_rows(rel, key, snapshot, [&](HeapTuple tuple) {
        bool isnull;
        result.sum += DatumGetInt64(heap_getattr(tuple, kDeltaDelta, desc, &isnull));
        result.rows++;
        Datum epoch = heap_getattr(tuple, kDeltaEpoch, desc, &isnull);
        if (!isnull) {
            if (result.base_rows > 0 && DatumGetInt64(epoch) != result.epoch)
                result.epochs_agree = false;
            result.epoch = DatumGetInt64(epoch);
            result.base_rows++;
            // Set at insert, cleared by a deleter (under the buffer lock;
            // a stale read only looks earlier in time).
            if (!(tuple->t_data->t_infomask & HEAP_XMAX_INVALID))
                result.bases_current = false;
        }
    });
    table_close(rel, AccessShareLock);
    return result;
}

bool latest_epoch(const pg_uuid_t &key, int64 *epoch)
{
    resolve(true);
    Relation rel = table_open(deltas_oid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    ScanKeyData scan_key;
    key_scan_key(&scan_key, kDeltaKey, key);
    SysScanDesc scan =
        systable_beginscan(rel, deltas_base_index_oid, true, nullptr, 1, &scan_key);
    HeapTuple tuple;
    bool found = false;
    while (!found && HeapTupleIsValid(tuple = systable_getnext(scan))) {
        bool isnull;
        Datum value = heap_getattr(tuple, kDeltaEpoch, desc, &isnull);
        if (!isnull) {
            *epoch = DatumGetInt64(value);
            found = true;
        }
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return found;
}

void insert_delta(const pg_uuid_t &key, int64 delta)
{
    insert_row(key, delta, false);
}

void insert_base(const pg_uuid_t &key, int64 count)
{
    insert_row(key, count, true);
    CommandCounterIncrement();
}

int64 remove_all(const pg_uuid_t &key)
{
    if (!resolve(false))
        return 0;
    Relation rel = table_open(deltas_oid, RowExclusiveLock);
    List *tids = NIL;
    scan_key_rows(rel, key, nullptr, [&](HeapTuple tuple) {
        auto *tid = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData)));
        *tid = tuple->t_self;
        tids = lappend(tids, tid);
    });
    ListCell *lc;
    foreach (lc, tids)
        CatalogTupleDelete(rel, static_cast<ItemPointer>(lfirst(lc)));
    table_close(rel, RowExclusiveLock);
    CommandCounterIncrement();
    return list_length(tids);
}

int64 fold(const pg_uuid_t &key)
{
    resolve(true);
    Relation rel = table_open(deltas_oid, RowExclusiveLock);
    TupleDesc desc = RelationGetDescr(rel);
    List *tids = NIL;
    int64 total = 0;
    int64 base_rows = 0;
    int64 epoch = 0;
    bool epochs_agree = true;
    scan_key_rows(rel, key, nullptr, [&](HeapTuple tuple) {
        bool isnull;
        total += DatumGetInt64(heap_getattr(tuple, kDeltaDelta, desc, &isnull));
        Datum value = heap_getattr(tuple, kDeltaEpoch, desc, &isnull);
        if (!isnull) {
            if (base_rows > 0 && DatumGetInt64(value) != epoch)
                epochs_agree = false;
            epoch = DatumGetInt64(value);
            base_rows++;
        }
        auto *tid = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData)));
        *tid = tuple->t_self;
        tids = lappend(tids, tid);
    });
    // Rows of two bases would mean two counts of the table; never fold
    // them into one (a reader would take the sum for a count).
    if (list_length(tids) < 2 || !epochs_agree) {
        table_close(rel, RowExclusiveLock);
        return 0;
    }
    ListCell *lc;
    foreach (lc, tids)
        CatalogTupleDelete(rel, static_cast<ItemPointer>(lfirst(lc)));

    insert_row(rel, key, total, base_rows > 0, epoch);
    table_close(rel, RowExclusiveLock);
    CommandCounterIncrement();
    return list_length(tids);
}

List *keys_with_rows()
{
    if (!resolve(false))
        return NIL;
    List *keys = NIL;
    Relation rel = table_open(deltas_oid, AccessShareLock);
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 0, nullptr);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        bool isnull;
        pg_uuid_t *key = DatumGetUUIDP(heap_getattr(tuple, kDeltaKey, RelationGetDescr(rel), &isnull));
        bool seen = false;
        ListCell *lc;
        foreach (lc, keys)
            seen = seen || memcmp(static_cast<pg_uuid_t *>(lfirst(lc))->data, key->data, UUID_LEN) == 0;
        if (!seen) {
            auto *copy = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
            *copy = *key;
            keys = lappend(keys, copy);
        }
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return keys;
}

} // namespace fast_count::exact_store
