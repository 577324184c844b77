#include "exact/exact_store.hpp"

#include "cache_store.hpp"
#include "catalog.hpp"
#include "exact/exact_fastpath.hpp"
#include "pg/fault_injection.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/rel.h"
}

namespace fast_count::exact_store {

namespace {

using catalog::Column;

// Exact mode's view of a database: false when the extension is missing or
// still at 0.1.0; raises then when `must`.
bool resolve(bool must)
{
    if (catalog::exact_available())
        return true;
    if (must)
        catalog::require_exact();
    return false;
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

Oid single_oid(Datum array)
{
    ArrayType *oids = DatumGetArrayTypeP(array);
    Datum *items;
    bool *nulls;
    int n;
    deconstruct_array(oids, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &items, &nulls, &n);
    return (n == 1 && !nulls[0]) ? DatumGetObjectId(items[0]) : InvalidOid;
}

bool is_exact(const Datum *values, const bool *nulls)
{
    return !nulls[catalog::kMode - 1] &&
           strcmp(TextDatumGetCString(values[catalog::kMode - 1]), "exact") == 0;
}

void decode(const Datum *values, const bool *nulls, ExactEntry *entry, bool with_text)
{
    using namespace catalog;
    auto null = [&](Column c) { return nulls[c - 1]; };
    auto get = [&](Column c) { return values[c - 1]; };
    memset(entry, 0, sizeof(*entry));
    entry->key = *DatumGetUUIDP(get(kKey));
    entry->exact = is_exact(values, nulls);
    entry->state =
        null(kExactState) ? State::kNone : parse_state(TextDatumGetCString(get(kExactState)));
    entry->predicate = null(kExactPredicate) ? nullptr : TextDatumGetCString(get(kExactPredicate));
    entry->table = null(kTables) ? InvalidOid : single_oid(get(kTables));
    entry->owner = DatumGetObjectId(get(kOwner));
    entry->failures = null(kFailures) ? 0 : DatumGetInt32(get(kFailures));
    entry->has_next_attempt = !null(kNextRefreshAt);
    entry->next_attempt = null(kNextRefreshAt) ? 0 : DatumGetTimestampTz(get(kNextRefreshAt));
    entry->has_error = !null(kLastError);
    entry->group_by = null(kGroupBy) ? nullptr : DatumGetArrayTypePCopy(get(kGroupBy));
    if (with_text) {
        entry->query = TextDatumGetCString(get(kQuery));
        entry->params = null(kParams) ? nullptr : DatumGetArrayTypePCopy(get(kParams));
        entry->settings = DatumGetArrayTypePCopy(get(kSettings));
    }
}

void decode(Relation rel, HeapTuple tuple, ExactEntry *entry, bool with_text)
{
    Datum values[catalog::kColumnCount];
    bool nulls[catalog::kColumnCount];
    catalog::deform(rel, tuple, values, nulls);
    decode(values, nulls, entry, with_text);
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
    Relation rel = catalog::open_entries(AccessShareLock);
    HeapTuple tuple = catalog::find_entry(rel, key);
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
    Relation rel = catalog::open_entries(AccessShareLock);
    catalog::scan_entries(rel, [&](HeapTuple tuple) {
        Datum values[catalog::kColumnCount];
        bool nulls[catalog::kColumnCount];
        catalog::deform(rel, tuple, values, nulls);
        if (!is_exact(values, nulls))
            return;
        auto *entry = static_cast<ExactEntry *>(palloc(sizeof(ExactEntry)));
        decode(values, nulls, entry, false);
        if (OidIsValid(table) && entry->table != table) {
            pfree(entry);
            return;
        }
        result = lappend(result, entry);
    });
    table_close(rel, AccessShareLock);
    return result;
}

void update(const pg_uuid_t &key, const Change &change)
{
    using namespace catalog;
    resolve(true);
    cache_store::require_row_free(key);  // rather than wait for an open transaction
    Relation rel = open_entries(RowExclusiveLock);
    HeapTuple tuple = catalog::find_entry(rel, key);
    if (tuple == nullptr) {
        table_close(rel, RowExclusiveLock);
        return;
    }
    Datum values[kColumnCount] = {};
    bool nulls[kColumnCount] = {};
    bool replace[kColumnCount] = {};
    auto set = [&](Column c, Datum value, bool isnull) {
        values[c - 1] = value;
        nulls[c - 1] = isnull;
        replace[c - 1] = true;
    };
    auto set_text = [&](Column c, const char *text) {
        set(c, text == nullptr ? 0 : CStringGetTextDatum(text), text == nullptr);
    };
    if (change.mode != nullptr)
        set_text(kMode, change.mode);
    if (change.set_state)
        set_text(kExactState, change.state == State::kNone ? nullptr : state_name(change.state));
    if (change.set_predicate)
        set_text(kExactPredicate, change.predicate);
    if (change.set_group_by && catalog::has_column(kGroupBy))
        set(kGroupBy, PointerGetDatum(change.group_by), change.group_by == nullptr);
    if (change.clear_error) {
        set(kLastError, 0, true);
        set(kLastErrorAt, 0, true);
        set(kFailures, Int32GetDatum(0), false);
    }
    HeapTuple updated = modify(rel, tuple, values, nulls, replace);
    CatalogTupleUpdate(rel, &tuple->t_self, updated);
    CommandCounterIncrement();
    table_close(rel, RowExclusiveLock);
    // A failure is recorded as the store records every failure.
    if (change.error != nullptr)
        cache_store::record_failure(key, change.error, change.retry_at);
    // Readers go by the shared index first: it must learn the new mode.
    cache_store::publish_at_commit(key);
    if (change.mode != nullptr || change.set_state || change.set_predicate)
        exact_fastpath::invalidate(key);
}

// --- fast_count.exact_deltas ---------------------------------------------

namespace {

using catalog::DeltaRow;

ItemPointer copy_tid(HeapTuple tuple)
{
    auto *tid = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData)));
    *tid = tuple->t_self;
    return tid;
}

void insert_row(const pg_uuid_t &key, int64 delta, bool base)
{
    resolve(true);
    Relation rel = catalog::open_deltas(RowExclusiveLock);
    int64 epoch = base ? static_cast<int64>(U64FromFullTransactionId(GetTopFullTransactionId())) : 0;
    catalog::insert_delta_row(rel, {key, delta, base, epoch});
    table_close(rel, RowExclusiveLock);
    // The shared-memory mirror of the rows (exact_fastpath.hpp) follows.
    if (base)
        exact_fastpath::invalidate(key);
    else
        exact_fastpath::publish(key, delta);
}

} // namespace

Sum sum(const pg_uuid_t &key, Snapshot snapshot)
{
    Sum result;
    resolve(true);
    Relation rel = catalog::open_deltas(AccessShareLock);
    catalog::scan_deltas(rel, key, snapshot, false, [&](const DeltaRow &row, HeapTuple tuple) {
        result.sum += row.delta;
        result.rows++;
        if (row.base) {
            if (result.base_rows > 0 && row.epoch != result.epoch)
                result.epochs_agree = false;
            result.epoch = row.epoch;
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
    Relation rel = catalog::open_deltas(AccessShareLock);
    bool found = false;
    catalog::scan_deltas(rel, key, nullptr, true, [&](const DeltaRow &row, HeapTuple) {
        if (!found && row.base) {
            *epoch = row.epoch;
            found = true;
        }
    });
    table_close(rel, AccessShareLock);
    return found;
}

void insert_delta(const pg_uuid_t &key, int64 delta)
{
    insert_row(key, delta, false);
}

bool groups_available()
{
    return catalog::groups_available();
}

namespace {

void insert_group_row(const pg_uuid_t &key, const pg_uuid_t &parent, const bytea *group,
                      int64 delta)
{
    resolve(true);
    Relation rel = catalog::open_deltas(RowExclusiveLock);
    DeltaRow row{key, delta, false, 0};
    row.grouped = true;
    row.parent = parent;
    row.group = group;
    catalog::insert_delta_row(rel, row);
    table_close(rel, RowExclusiveLock);
}

} // namespace

void insert_group_delta(const pg_uuid_t &key, const pg_uuid_t &parent, const bytea *group,
                        int64 delta)
{
    insert_group_row(key, parent, group, delta);
    exact_fastpath::publish(key, delta);
}

void insert_group_base(const pg_uuid_t &key, const pg_uuid_t &parent, const bytea *group,
                       int64 count)
{
    insert_group_row(key, parent, group, count);
}

namespace {

// The rows of parent's groups, gathered per group.
struct GroupRows {
    GroupSum sum;
    List *tids;
};

bool same_uuid(const pg_uuid_t &a, const pg_uuid_t &b)
{
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

// Groups parent's rows by group key in a dynahash (sized by what it finds).
template <typename Visit>
void for_each_group(const pg_uuid_t &parent, Snapshot snapshot, bool keep_tids, LOCKMODE mode,
                    Visit &&visit)
{
    HTAB *groups = uuid_table("fast_count groups", 256, sizeof(GroupRows));
    Relation rel = catalog::open_deltas(mode);
    catalog::scan_group_deltas(rel, parent, snapshot, [&](const DeltaRow &row, HeapTuple tuple) {
        if (!row.grouped || !same_uuid(row.parent, parent))
            return;
        bool found;
        auto *group = static_cast<GroupRows *>(hash_search(groups, &row.key, HASH_ENTER, &found));
        if (!found) {
            group->sum.key = row.key;
            group->sum.sum = 0;
            size_t size = VARSIZE_ANY(row.group);
            auto *copy = static_cast<bytea *>(palloc(size));
            memcpy(copy, row.group, size);
            group->sum.group = copy;
            group->tids = NIL;
        }
        group->sum.sum += row.delta;
        if (keep_tids)
            group->tids = lappend(group->tids, copy_tid(tuple));
    });
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, groups);
    GroupRows *group;
    while ((group = static_cast<GroupRows *>(hash_seq_search(&status))) != nullptr)
        visit(rel, *group);
    table_close(rel, mode);
}

} // namespace

HTAB *uuid_table(const char *name, long size, Size entry_size)
{
    HASHCTL ctl;
    memset(&ctl, 0, sizeof(ctl));
    ctl.keysize = sizeof(pg_uuid_t);
    ctl.entrysize = entry_size;
    ctl.hcxt = CurrentMemoryContext;
    return hash_create(name, Max(size, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

HTAB *new_group_sums(const char *name, long size)
{
    return uuid_table(name, size, sizeof(GroupSum));
}

void add_group_sums(HTAB *sums, List *groups, int sign)
{
    ListCell *lc;
    foreach (lc, groups) {
        auto *group = static_cast<GroupSum *>(lfirst(lc));
        bool found;
        auto *sum = static_cast<GroupSum *>(hash_search(sums, &group->key, HASH_ENTER, &found));
        if (!found) {
            sum->group = group->group;
            sum->sum = 0;
        }
        sum->sum += sign * group->sum;
    }
}

List *nonzero_group_sums(HTAB *sums)
{
    List *result = NIL;
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, sums);
    GroupSum *sum;
    while ((sum = static_cast<GroupSum *>(hash_seq_search(&status))) != nullptr)
        if (sum->sum != 0)
            result = lappend(result, sum);
    return result;
}

List *group_sums(const pg_uuid_t &parent, Snapshot snapshot)
{
    resolve(true);
    List *sums = NIL;
    if (!catalog::groups_available())
        return NIL;
    for_each_group(parent, snapshot, false, AccessShareLock, [&](Relation, GroupRows &group) {
        auto *sum = static_cast<GroupSum *>(palloc(sizeof(GroupSum)));
        *sum = group.sum;
        sums = lappend(sums, sum);
    });
    return sums;
}

int64 fold_groups(const pg_uuid_t &parent)
{
    resolve(true);
    if (!catalog::groups_available())
        return 0;
    int64 removed = 0;
    for_each_group(parent, nullptr, true, RowExclusiveLock, [&](Relation rel, GroupRows &group) {
        // One row per group is the folded state; a group summing to 0 has
        // no row at all, so storage stays in proportion to the groups.
        if (list_length(group.tids) < 2 && group.sum.sum != 0)
            return;
        if (removed > 0)
            fault::point(fault::kFoldGroup);
        catalog::delete_rows(rel, group.tids);
        removed += list_length(group.tids);
        if (group.sum.sum != 0) {
            DeltaRow row{group.sum.key, group.sum.sum, false, 0};
            row.grouped = true;
            row.parent = parent;
            row.group = group.sum.group;
            catalog::insert_delta_row(rel, row);
        }
    });
    if (removed > 0)
        CommandCounterIncrement();
    return removed;
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
    Relation rel = catalog::open_deltas(RowExclusiveLock);
    List *tids = NIL;
    catalog::scan_deltas(rel, key, nullptr, false, [&](const DeltaRow &, HeapTuple tuple) {
        tids = lappend(tids, copy_tid(tuple));
    });
    if (catalog::groups_available())
        catalog::scan_group_deltas(rel, key, nullptr, [&](const DeltaRow &, HeapTuple tuple) {
            tids = lappend(tids, copy_tid(tuple));
        });
    catalog::delete_rows(rel, tids);
    table_close(rel, RowExclusiveLock);
    CommandCounterIncrement();
    exact_fastpath::invalidate(key);
    return list_length(tids);
}

int64 fold(const pg_uuid_t &key)
{
    resolve(true);
    Relation rel = catalog::open_deltas(RowExclusiveLock);
    List *tids = NIL;
    DeltaRow folded{key, 0, false, 0};
    bool epochs_agree = true;
    catalog::scan_deltas(rel, key, nullptr, false, [&](const DeltaRow &row, HeapTuple tuple) {
        folded.delta += row.delta;
        if (row.base) {
            if (folded.base && row.epoch != folded.epoch)
                epochs_agree = false;
            folded.epoch = row.epoch;
            folded.base = true;
        }
        tids = lappend(tids, copy_tid(tuple));
    });
    // Rows of two bases would mean two counts of the table; never fold
    // them into one (a reader would take the sum for a count).
    if (list_length(tids) < 2 || !epochs_agree) {
        table_close(rel, RowExclusiveLock);
        return 0;
    }
    catalog::delete_rows(rel, tids);
    catalog::insert_delta_row(rel, folded);
    table_close(rel, RowExclusiveLock);
    CommandCounterIncrement();
    return list_length(tids);
}

List *keys_with_rows()
{
    if (!resolve(false))
        return NIL;
    List *keys = NIL;
    Relation rel = catalog::open_deltas(AccessShareLock);
    // A grouped registration may have a million groups' rows.
    HTAB *seen = uuid_table("fast_count keys", 64, sizeof(pg_uuid_t));
    catalog::scan_all_deltas(rel, [&](const DeltaRow &row, HeapTuple) {
        const pg_uuid_t &owner = row.grouped ? row.parent : row.key;
        bool found;
        (void) hash_search(seen, &owner, HASH_ENTER, &found);
        if (!found) {
            auto *copy = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
            *copy = owner;
            keys = lappend(keys, copy);
        }
    });
    hash_destroy(seen);
    table_close(rel, AccessShareLock);
    return keys;
}

} // namespace fast_count::exact_store
