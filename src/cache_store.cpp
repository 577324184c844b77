#include "cache_store.hpp"

#include "catalog.hpp"
#include "key_lock.hpp"
#include "mode_registry.hpp"
#include "settings.hpp"
#include "shared_index.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace fast_count::cache_store {

namespace {

using namespace catalog;

struct Row {
    Datum values[kColumnCount];
    bool nulls[kColumnCount];
    bool replace[kColumnCount];

    Row()
    {
        for (int i = 0; i < kColumnCount; i++) {
            values[i] = 0;
            nulls[i] = true;
            replace[i] = false;
        }
    }
    // Columns the installed layout does not have yet are left out.
    void set(Column column, Datum value)
    {
        if (!has_column(column))
            return;
        values[column - 1] = value;
        nulls[column - 1] = false;
        replace[column - 1] = true;
    }
    void set_null(Column column)
    {
        if (!has_column(column))
            return;
        values[column - 1] = 0;
        nulls[column - 1] = true;
        replace[column - 1] = true;
    }
    bool is_null(Column column) const { return !has_column(column) || nulls[column - 1]; }
    Datum get(Column column) const { return values[column - 1]; }
};

// When a registered entry was last counted or found unchanged (or else
// registered): the start of its current refresh interval.
TimestampTz last_checked(const Row &row)
{
    if (row.is_null(kCount) || row.is_null(kCountedAt))
        return row.is_null(kRegisteredAt) ? 0 : DatumGetTimestampTz(row.get(kRegisteredAt));
    TimestampTz counted_at = DatumGetTimestampTz(row.get(kCountedAt));
    if (row.is_null(kCheckedAt))
        return counted_at;
    return Max(counted_at, DatumGetTimestampTz(row.get(kCheckedAt)));
}

TimestampTz capped_next_refresh(TimestampTz next, TimestampTz last_checked)
{
    int64 longest = static_cast<int64>(settings::max_refresh_every) * USECS_PER_SEC;
    int64 ahead;
    if (__builtin_sub_overflow(next, last_checked, &ahead) || ahead > longest)
        return last_checked + longest;
    return next;
}

Datum interval_datum(int64 usecs)
{
    Interval *interval = static_cast<Interval *>(palloc0(sizeof(Interval)));
    interval->time = usecs;
    return IntervalPGetDatum(interval);
}

Datum oid_array_datum(List *oids)
{
    int n = list_length(oids);
    Datum *items = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
    int i = 0;
    ListCell *lc;
    foreach (lc, oids)
        items[i++] = ObjectIdGetDatum(lfirst_oid(lc));
    return PointerGetDatum(construct_array(items, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

bool oid_array_contains(Datum array, List *oids)
{
    Datum *items;
    bool *nulls;
    int n;
    deconstruct_array(DatumGetArrayTypeP(array), OIDOID, sizeof(Oid), true, TYPALIGN_INT, &items,
                      &nulls, &n);
    for (int i = 0; i < n; i++)
        if (!nulls[i] && list_member_oid(oids, DatumGetObjectId(items[i])))
            return true;
    return false;
}

HeapTuple find_row(Relation rel, const pg_uuid_t &key)
{
    return catalog::find_entry(rel, key);
}

// Whether a transaction in progress other than this one has inserted,
// updated or deleted a version of the key's row: writing it now would wait
// for that transaction (heap_update on the version, or the unique index on
// an insert) for as long as it stays open.
bool row_busy(Relation rel, const pg_uuid_t &key)
{
    return catalog::entry_busy(rel, key);
}

// For writers that cannot skip their write: refuse rather than wait.
void require_row_free(Relation rel, const pg_uuid_t &key)
{
    if (row_busy(rel, key))
        ereport(ERROR,
                (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                 errmsg("the cache entry of this query is being written by another transaction"),
                 errdetail("A transaction that is still open has stored or changed it."),
                 errhint("Try again when that transaction has ended.")));
}

uint8 mode_of(const Row &row)
{
    if (row.is_null(kMode))
        return modes::kPeriodic;
    return modes::id_of(TextDatumGetCString(row.get(kMode)));
}

void decode(Relation rel, HeapTuple tuple, Entry *entry, bool with_text)
{
    Row row;
    catalog::deform(rel, tuple, row.values, row.nulls);

    memset(entry, 0, sizeof(*entry));
    entry->key = *DatumGetUUIDP(row.get(kKey));
    entry->has_count = !row.is_null(kCount) && !row.is_null(kCountedAt);
    if (entry->has_count) {
        entry->count = DatumGetInt64(row.get(kCount));
        entry->counted_at = DatumGetTimestampTz(row.get(kCountedAt));
    }
    if (!row.is_null(kCountDuration))
        entry->count_ms =
            interval_to_usecs(DatumGetIntervalP(row.get(kCountDuration))) / 1000.0;
    entry->has_expires_at = !row.is_null(kExpiresAt);
    if (entry->has_expires_at)
        entry->expires_at = DatumGetTimestampTz(row.get(kExpiresAt));
    entry->registered = DatumGetBool(row.get(kRegistered));
    if (!row.is_null(kRefreshEvery))
        entry->refresh_every_us = interval_to_usecs(DatumGetIntervalP(row.get(kRefreshEvery)));
    entry->has_next_refresh_at = !row.is_null(kNextRefreshAt);
    if (entry->has_next_refresh_at)
        entry->next_refresh_at = DatumGetTimestampTz(row.get(kNextRefreshAt));
    if (!row.is_null(kRegisteredAt))
        entry->registered_at = DatumGetTimestampTz(row.get(kRegisteredAt));
    entry->owner = DatumGetObjectId(row.get(kOwner));
    entry->failures = DatumGetInt32(row.get(kFailures));
    entry->mode = mode_of(row);
    entry->is_estimate = !row.is_null(kIsEstimate) && DatumGetBool(row.get(kIsEstimate));
    entry->checked_at =
        row.is_null(kCheckedAt) ? entry->counted_at : DatumGetTimestampTz(row.get(kCheckedAt));
    // Every user of a registration (readers, the worker, the shared index)
    // sees its interval and next refresh as capped now.
    if (entry->registered) {
        entry->refresh_every_us = capped_interval(entry->refresh_every_us);
        if (entry->has_next_refresh_at)
            entry->next_refresh_at =
                capped_next_refresh(entry->next_refresh_at, last_checked(row));
    }
    if (with_text) {
        entry->query = TextDatumGetCString(row.get(kQuery));
        entry->params = row.is_null(kParams) ? nullptr : DatumGetArrayTypePCopy(row.get(kParams));
        entry->settings = DatumGetArrayTypePCopy(row.get(kSettings));
        if (!row.is_null(kChangeSignature))
            entry->change_signature = DatumGetByteaPCopy(row.get(kChangeSignature));
    }
}

// The last cache row this transaction wrote while it had no other writes,
// and the command it left the transaction at: while both still hold,
// nothing else has written.
struct OwnWrites {
    TransactionId xid;
    CommandId command;
};
OwnWrites own_writes{InvalidTransactionId, InvalidCommandId};

void note_write(bool was_clean)
{
    if (was_clean)
        own_writes = {GetTopTransactionIdIfAny(), GetCurrentCommandId(false)};
}

// The key's new row version, with the table's defaults for a new row
// (heap-level inserts apply no column defaults or NOT NULL checks).
HeapTuple form_row(Relation rel, HeapTuple old_tuple, Row &row)
{
    if (old_tuple == nullptr) {
        if (!row.replace[kRegistered - 1])
            row.set(kRegistered, BoolGetDatum(false));
        if (!row.replace[kFailures - 1])
            row.set(kFailures, Int32GetDatum(0));
        if (!row.replace[kMode - 1])
            row.set(kMode, CStringGetTextDatum("periodic"));
        if (!row.replace[kIsEstimate - 1])
            row.set(kIsEstimate, BoolGetDatum(false));
        return catalog::form(rel, row.values, row.nulls);
    }
    return catalog::modify(rel, old_tuple, row.values, row.nulls, row.replace);
}

Entry write_row(Relation rel, HeapTuple old_tuple, Row &row)
{
    bool was_clean = no_uncommitted_writes();
    HeapTuple written = form_row(rel, old_tuple, row);
    if (old_tuple != nullptr)
        CatalogTupleUpdate(rel, &old_tuple->t_self, written);
    else
        CatalogTupleInsert(rel, written);
    // Later reads in this transaction (and the next refresh check) see it.
    CommandCounterIncrement();
    note_write(was_clean);

    Entry entry;
    decode(rel, written, &entry, false);
    shared_index::publish_at_commit(RelationGetRelid(rel), entry);
    return entry;
}

void delete_row(Relation rel, HeapTuple tuple, const pg_uuid_t &key)
{
    bool was_clean = no_uncommitted_writes();
    CatalogTupleDelete(rel, &tuple->t_self);
    CommandCounterIncrement();
    note_write(was_clean);
    shared_index::forget_at_commit(key);
}

// The columns that describe the query itself, as this caller reads it.
void set_query_columns(Row &row, const QueryIdentity *identity, Oid owner, ArrayType *settings)
{
    row.set(kQuery, CStringGetTextDatum(identity->query_text));
    if (identity->params != nullptr)
        row.set(kParams, PointerGetDatum(identity->params));
    else
        row.set_null(kParams);
    row.set(kSettings, PointerGetDatum(settings));
    row.set(kOwner, ObjectIdGetDatum(owner));
}

bool text_arrays_equal(ArrayType *a, ArrayType *b)
{
    Datum *a_items, *b_items;
    bool *a_nulls, *b_nulls;
    int a_n, b_n;
    deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &a_items, &a_nulls, &a_n);
    deconstruct_array(b, TEXTOID, -1, false, TYPALIGN_INT, &b_items, &b_nulls, &b_n);
    if (a_n != b_n)
        return false;
    for (int i = 0; i < a_n; i++) {
        if (a_nulls[i] != b_nulls[i])
            return false;
        if (!a_nulls[i] && strcmp(TextDatumGetCString(a_items[i]), TextDatumGetCString(b_items[i])) != 0)
            return false;
    }
    return true;
}

pg_uuid_t *copy_key(Datum key)
{
    auto *copy = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    *copy = *DatumGetUUIDP(key);
    return copy;
}

// A registered count is served (stale, while the worker refreshes it) until
// fast_count.max_stale past its refresh time.
TimestampTz registered_expiry(TimestampTz next_refresh)
{
    return next_refresh + static_cast<int64>(settings::max_stale) * USECS_PER_SEC;
}

} // namespace

List *oid_list(Datum array)
{
    Datum *items;
    bool *nulls;
    int n;
    deconstruct_array(DatumGetArrayTypeP(array), OIDOID, sizeof(Oid), true, TYPALIGN_INT, &items,
                      &nulls, &n);
    List *oids = NIL;
    for (int i = 0; i < n; i++)
        if (!nulls[i])
            oids = lappend_oid(oids, DatumGetObjectId(items[i]));
    return oids;
}

bool no_uncommitted_writes()
{
    TransactionId xid = GetTopTransactionIdIfAny();
    return !TransactionIdIsValid(xid) ||
           (xid == own_writes.xid && GetCurrentCommandId(false) == own_writes.command);
}

void publish_at_commit(const pg_uuid_t &key)
{
    Relation rel = open_entries(AccessShareLock);
    HeapTuple tuple = find_row(rel, key);
    if (tuple != nullptr) {
        Entry entry;
        decode(rel, tuple, &entry, false);
        shared_index::publish_at_commit(RelationGetRelid(rel), entry);
    } else {
        shared_index::forget_at_commit(key);
    }
    table_close(rel, AccessShareLock);
}

int64 interval_to_usecs(const Interval *interval)
{
    // Saturates: '178000000 years' is longer than any limit, not negative.
    __int128 usecs = static_cast<__int128>(interval->time) +
                     static_cast<__int128>(interval->day) * USECS_PER_DAY +
                     static_cast<__int128>(interval->month) * DAYS_PER_MONTH * USECS_PER_DAY;
    if (usecs > PG_INT64_MAX)
        return PG_INT64_MAX;
    if (usecs < PG_INT64_MIN)
        return PG_INT64_MIN;
    return static_cast<int64>(usecs);
}

int64 capped_interval(int64 refresh_every_us)
{
    return Min(refresh_every_us, static_cast<int64>(settings::max_refresh_every) * USECS_PER_SEC);
}

bool lookup(const pg_uuid_t &key, Entry *entry, bool with_text)
{
    Relation rel = open_entries(AccessShareLock);
    HeapTuple tuple = find_row(rel, key);
    if (tuple != nullptr)
        decode(rel, tuple, entry, with_text);
    table_close(rel, AccessShareLock);
    return tuple != nullptr;
}

namespace {

// The columns a count sets on the key's row (old_tuple: its current
// version, or null).
void set_count_columns(Relation rel, HeapTuple old_tuple, const QueryIdentity *identity,
                       const CountRun &run, bytea *signature, Row &row)
{
    Entry old{};
    if (old_tuple != nullptr)
        decode(rel, old_tuple, &old, false);

    row.set(kKey, UUIDPGetDatum(const_cast<pg_uuid_t *>(&identity->key)));
    row.set(kRelids, oid_array_datum(identity->relids));
    row.set(kTables, oid_array_datum(identity->tables));
    row.set(kCount, Int64GetDatum(run.count));
    row.set(kCountedAt, TimestampTzGetDatum(run.started_at));
    row.set(kCheckedAt, TimestampTzGetDatum(run.started_at));
    row.set(kCountDuration, interval_datum(static_cast<int64>(run.milliseconds * 1000.0)));
    row.set(kIsEstimate, BoolGetDatum(run.is_estimate));
    if (signature != nullptr)
        row.set(kChangeSignature, PointerGetDatum(signature));
    else
        row.set_null(kChangeSignature);
    row.set_null(kLastError);
    row.set_null(kLastErrorAt);
    row.set(kFailures, Int32GetDatum(0));

    if (old_tuple != nullptr && old.registered) {
        TimestampTz next = run.started_at + old.refresh_every_us;
        row.set(kNextRefreshAt, TimestampTzGetDatum(next));
        row.set(kExpiresAt, TimestampTzGetDatum(registered_expiry(next)));
    } else {
        row.set(kExpiresAt, TimestampTzGetDatum(run.started_at + static_cast<int64>(
                                                                     settings::expire_after) *
                                                                     USECS_PER_SEC));
        row.set(kRegistered, BoolGetDatum(false));
        row.set_null(kRefreshEvery);
        // An estimate is due for its count right away (by the worker).
        if (run.is_estimate)
            row.set(kNextRefreshAt, TimestampTzGetDatum(run.started_at));
        else
            row.set_null(kNextRefreshAt);
        row.set_null(kRegisteredAt);
        set_query_columns(row, identity, GetUserId(), capture_reading_settings());
    }
}

} // namespace

void store_count(const QueryIdentity *identity, const CountRun &run, bytea *signature)
{
    Relation rel = open_entries(RowExclusiveLock);
    require_row_free(rel, identity->key);
    HeapTuple old_tuple = find_row(rel, identity->key);
    Row row;
    set_count_columns(rel, old_tuple, identity, run, signature, row);
    write_row(rel, old_tuple, row);
    table_close(rel, RowExclusiveLock);
}

bool keep_count(const QueryIdentity *identity, const CountRun &run, bytea *signature,
                bool share_now)
{
    Relation rel = open_entries(RowExclusiveLock);
    bool busy = row_busy(rel, identity->key);
    if (busy && !share_now) {
        table_close(rel, RowExclusiveLock);
        return false;
    }
    HeapTuple old_tuple = find_row(rel, identity->key);
    Row row;
    set_count_columns(rel, old_tuple, identity, run, signature, row);
    Entry entry;
    if (!busy) {
        entry = write_row(rel, old_tuple, row);
    } else {
        // The open transaction's version becomes the row when it commits
        // (the shared index keeps the newer of the two counts).
        decode(rel, form_row(rel, old_tuple, row), &entry, false);
    }
    if (share_now)
        shared_index::publish_now(RelationGetRelid(rel), entry);
    table_close(rel, RowExclusiveLock);
    return !busy;
}

void require_row_free(const pg_uuid_t &key)
{
    Relation rel = open_entries(AccessShareLock);
    require_row_free(rel, key);
    table_close(rel, AccessShareLock);
}

bool row_free(const pg_uuid_t &key)
{
    Relation rel = open_entries(AccessShareLock);
    bool busy = row_busy(rel, key);
    table_close(rel, AccessShareLock);
    return !busy;
}

namespace {

// Changes the key's row, when there is one: change(old, row) sets the
// columns to write.
template <typename Change>
void change_row(const pg_uuid_t &key, Change &&change)
{
    Relation rel = open_entries(RowExclusiveLock);
    require_row_free(rel, key);
    HeapTuple tuple = find_row(rel, key);
    if (tuple != nullptr) {
        Entry old;
        decode(rel, tuple, &old, false);
        Row row;
        change(old, row);
        write_row(rel, tuple, row);
    }
    table_close(rel, RowExclusiveLock);
}

} // namespace

void confirm_count(const pg_uuid_t &key, TimestampTz checked_at)
{
    change_row(key, [checked_at](const Entry &old, Row &row) {
        row.set(kCheckedAt, TimestampTzGetDatum(checked_at));
        if (old.registered) {
            TimestampTz next = checked_at + old.refresh_every_us;
            row.set(kNextRefreshAt, TimestampTzGetDatum(next));
            row.set(kExpiresAt, TimestampTzGetDatum(registered_expiry(next)));
        }
    });
}

void register_query(const QueryIdentity *identity, int64 refresh_every_us, Oid owner,
                    ArrayType *settings, TimestampTz registered_at)
{
    Relation rel = open_entries(RowExclusiveLock);
    require_row_free(rel, identity->key);
    HeapTuple old_tuple = find_row(rel, identity->key);
    Entry old{};
    if (old_tuple != nullptr)
        decode(rel, old_tuple, &old, false);

    TimestampTz now = GetCurrentTimestamp();
    TimestampTz next = now;
    refresh_every_us = capped_interval(refresh_every_us);
    if (old_tuple != nullptr && old.has_count && old.counted_at + refresh_every_us > now)
        next = old.counted_at + refresh_every_us;

    Row row;
    row.set(kKey, UUIDPGetDatum(const_cast<pg_uuid_t *>(&identity->key)));
    set_query_columns(row, identity, owner, settings);
    row.set(kRelids, oid_array_datum(identity->relids));
    row.set(kTables, oid_array_datum(identity->tables));
    row.set(kRegistered, BoolGetDatum(true));
    row.set(kRefreshEvery, interval_datum(refresh_every_us));
    row.set(kNextRefreshAt, TimestampTzGetDatum(next));
    // A registration taken over by another role is a new one.
    bool same_registration = old.registered && old.owner == owner;
    row.set(kRegisteredAt,
            TimestampTzGetDatum(same_registration ? old.registered_at : registered_at));
    if (old_tuple != nullptr && old.has_count)
        row.set(kExpiresAt, TimestampTzGetDatum(registered_expiry(next)));
    write_row(rel, old_tuple, row);
    table_close(rel, RowExclusiveLock);
}

bool remove(const pg_uuid_t &key)
{
    Relation rel = open_entries(RowExclusiveLock);
    require_row_free(rel, key);
    HeapTuple tuple = find_row(rel, key);
    if (tuple != nullptr)
        delete_row(rel, tuple, key);
    table_close(rel, RowExclusiveLock);
    return tuple != nullptr;
}

void record_failure(const pg_uuid_t &key, const char *message, TimestampTz retry_at)
{
    change_row(key, [message, retry_at](const Entry &old, Row &row) {
        row.set(kLastError, CStringGetTextDatum(message));
        row.set(kLastErrorAt, TimestampTzGetDatum(GetCurrentTimestamp()));
        row.set(kFailures, Int32GetDatum(old.failures + 1));
        row.set(kNextRefreshAt, TimestampTzGetDatum(retry_at));
    });
}

List *due_keys(TimestampTz now, TimestampTz *next_due)
{
    List *keys = NIL;
    Relation rel = open_entries(AccessShareLock);
    scan_entries(rel, [&](HeapTuple tuple) {
        Row row;
        catalog::deform(rel, tuple, row.values, row.nulls);
        bool estimate = !row.is_null(kIsEstimate) && DatumGetBool(row.get(kIsEstimate));
        if (!DatumGetBool(row.get(kRegistered)) && !estimate)
            return;
        // Entries of another mode are kept by that mode (mode_registry.hpp).
        if (mode_of(row) != modes::kPeriodic)
            return;
        TimestampTz next =
            row.is_null(kNextRefreshAt) ? now : DatumGetTimestampTz(row.get(kNextRefreshAt));
        if (DatumGetBool(row.get(kRegistered)))
            next = capped_next_refresh(next, last_checked(row));
        if (next <= now)
            keys = lappend(keys, copy_key(row.get(kKey)));
        else if (next < *next_due)
            *next_due = next;
    });
    table_close(rel, AccessShareLock);
    return keys;
}

List *all_keys()
{
    List *keys = NIL;
    Relation rel = open_entries(AccessShareLock);
    scan_entries(rel, [&](HeapTuple tuple) {
        Row row;
        catalog::deform(rel, tuple, row.values, row.nulls);
        keys = lappend(keys, copy_key(row.get(kKey)));
    });
    table_close(rel, AccessShareLock);
    return keys;
}

List *expired_keys(TimestampTz now)
{
    List *keys = NIL;
    Relation rel = open_entries(AccessShareLock);
    scan_entries(rel, [&](HeapTuple tuple) {
        Row row;
        catalog::deform(rel, tuple, row.values, row.nulls);
        if (DatumGetBool(row.get(kRegistered)))
            return;
        if (row.is_null(kExpiresAt) || DatumGetTimestampTz(row.get(kExpiresAt)) <= now)
            keys = lappend(keys, copy_key(row.get(kKey)));
    });
    table_close(rel, AccessShareLock);
    return keys;
}

List *keys_registered_as(const char *query, ArrayType *params)
{
    List *keys = NIL;
    Relation rel = open_entries(AccessShareLock);
    scan_entries(rel, [&](HeapTuple tuple) {
        Row row;
        catalog::deform(rel, tuple, row.values, row.nulls);
        if (!DatumGetBool(row.get(kRegistered)))
            return;
        if (strcmp(TextDatumGetCString(row.get(kQuery)), query) != 0)
            return;
        if (row.is_null(kParams) != (params == nullptr))
            return;
        if (params != nullptr && !text_arrays_equal(DatumGetArrayTypeP(row.get(kParams)), params))
            return;
        keys = lappend(keys, copy_key(row.get(kKey)));
    });
    table_close(rel, AccessShareLock);
    return keys;
}

void relations_of(const pg_uuid_t &key, List **relids, List **tables)
{
    *relids = NIL;
    *tables = NIL;
    Relation rel = open_entries(AccessShareLock);
    HeapTuple tuple = find_row(rel, key);
    if (tuple != nullptr) {
        Row row;
        catalog::deform(rel, tuple, row.values, row.nulls);
        *relids = oid_list(row.get(kRelids));
        *tables = oid_list(row.get(kTables));
    }
    table_close(rel, AccessShareLock);
}

void for_each_row(RowVisitor visit, void *arg)
{
    Relation rel = open_entries(AccessShareLock);
    scan_entries(rel, [&](HeapTuple tuple) {
        Row row;
        catalog::deform(rel, tuple, row.values, row.nulls);
        Entry entry;
        decode(rel, tuple, &entry, false);
        visit(row.values, row.nulls, entry, arg);
    });
    table_close(rel, AccessShareLock);
}

void forget_relations(List *relids)
{
    if (relids == NIL)
        return;
    Relation rel = open_entries(RowExclusiveLock);
    List *affected = NIL;
    scan_entries(rel, [&](HeapTuple tuple) {
        Row row;
        catalog::deform(rel, tuple, row.values, row.nulls);
        if (oid_array_contains(row.get(kRelids), relids) ||
            oid_array_contains(row.get(kTables), relids))
            affected = lappend(affected, copy_key(row.get(kKey)));
    });

    ListCell *lc;
    foreach (lc, affected) {
        const pg_uuid_t &key = *static_cast<pg_uuid_t *>(lfirst(lc));
        key_lock::lock(key);
        HeapTuple tuple = find_row(rel, key);
        if (tuple == nullptr)
            continue;
        Entry entry;
        decode(rel, tuple, &entry, false);
        if (!entry.registered) {
            delete_row(rel, tuple, key);
            continue;
        }
        Row row;
        row.set_null(kCount);
        row.set_null(kCountedAt);
        row.set_null(kExpiresAt);
        row.set(kLastError, CStringGetTextDatum("a relation the query reads was dropped"));
        row.set(kLastErrorAt, TimestampTzGetDatum(GetCurrentTimestamp()));
        row.set(kNextRefreshAt, TimestampTzGetDatum(GetCurrentTimestamp()));
        write_row(rel, tuple, row);
    }
    table_close(rel, RowExclusiveLock);
}

} // namespace fast_count::cache_store
