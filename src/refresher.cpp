#include "refresher.hpp"

#include "catalog.hpp"
#include "change_signature.hpp"
#include "count_executor.hpp"
#include "key_lock.hpp"
#include "mode_registry.hpp"
#include "pg/restricted_scope.hpp"
#include "query_memo.hpp"
#include "settings.hpp"
#include "shared_index.hpp"
#include "worker_control.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/syscache.h"
}

namespace fast_count::refresher {

namespace {

using shared_index::Event;

int64 seconds(int value)
{
    return static_cast<int64>(value) * USECS_PER_SEC;
}

// Whether a reader may be served this entry now.
bool usable(const Entry &entry, TimestampTz now)
{
    if (!entry.has_count)
        return false;
    if (entry.is_estimate && !settings::estimate_on_miss)
        return false;
    // The reader's own bound, whoever registered the query. Measured from
    // counted_at, when the number was last produced by running the query:
    // checked_at only says that the worker, running as the registering role,
    // saw no change in the tables' statistics, which is a heuristic the
    // reader has no reason to trust. The shared index mirrors counted_at, so
    // hits keep reading no table.
    if (settings::max_age > 0 && now - entry.counted_at >= seconds(settings::max_age))
        return false;
    if (entry.registered)
        return entry.has_next_refresh_at &&
               now < entry.next_refresh_at + seconds(settings::max_stale);
    return entry.has_expires_at && now < entry.expires_at &&
           now < entry.counted_at + seconds(settings::expire_after);
}

bool worth_keeping(const CountRun &run)
{
    return run.count >= settings::cache_larger_than ||
           (settings::cache_slower_than >= 0 && run.milliseconds >= settings::cache_slower_than);
}

int64 count_live(const QueryIdentity *identity, const char *why)
{
    elog(DEBUG1, "fast_count: counting live: %s", why);
    CountRun run = run_count(identity, Shared::kNo);
    shared_index::note(identity->key, Event::kLiveCount, run.milliseconds);
    return run.count;
}

bool same_key(const pg_uuid_t &a, const pg_uuid_t &b)
{
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

// Counts key, with waiters told a count is in flight; *wrote: the count
// itself wrote (a function of the query did), so it is nobody's to keep.
// In REPEATABLE READ or SERIALIZABLE the count is as of the transaction's
// snapshot, taken at or after the transaction's start: it is labelled as of
// that start, never as of now, so that it expires no later than a count
// taken then would.
CountRun count_marked(const pg_uuid_t &key, const QueryIdentity *identity, bool *wrote)
{
    key_lock::begin_counting(key);
    // Any write uses a command ID, which the increment after the count
    // turns into a new command; the one before settles earlier writes.
    CommandCounterIncrement();
    CommandId before = GetCurrentCommandId(false);
    CountRun run = run_count(identity, Shared::kYes);
    CommandCounterIncrement();
    *wrote = GetCurrentCommandId(false) != before;
    if (IsolationUsesXactSnapshot())
        run.started_at = Min(run.started_at, GetCurrentTransactionStartTimestamp());
    return run;
}

// How long a waiter waits for a key lock held by a transaction that is not
// counting: about as long as the last count of the entry took, so that a
// reader never waits much longer than counting itself would take.
double grace_ms(bool found, const Entry &entry)
{
    constexpr double kMinimumMs = 10.0;
    return found && entry.has_count ? Max(kMinimumMs, entry.count_ms) : kMinimumMs;
}

// The entry as the shared index has it (where a count published by a
// transaction still open is), or else as the table has it; no hit counted.
bool find_entry_fresh(const pg_uuid_t &key, Entry *entry)
{
    if (shared_index::usable() && shared_index::find(catalog::entries_oid(), key, entry))
        return true;
    return cache_store::lookup(key, entry);
}

// Keeps a count under the key lock, then releases the lock and the
// in-flight mark right away, whatever the transaction does next. A count
// that includes no uncommitted writes is shared at once; one that includes
// this transaction's own writes is kept in its row only, which others see
// when (and if) those writes commit; one the count itself wrote is not kept.
void keep_and_release(const QueryIdentity *identity, const CountRun &run, bytea *signature,
                      bool count_wrote)
{
    if (!count_wrote)
        (void) cache_store::keep_count(identity, run, signature,
                                       cache_store::no_uncommitted_writes());
    key_lock::unlock(identity->key);
    key_lock::end_counting(identity->key);
}

bool usable_now(const Entry &entry, void *now)
{
    return entry.mode == modes::kPeriodic && usable(entry, *static_cast<TimestampTz *>(now));
}

// The entry as the shared index has it, or else as the table has it;
// *counted: the index has counted the hit already.
bool find_entry(const pg_uuid_t &key, Entry *entry, TimestampTz now, bool *counted)
{
    *counted = false;
    shared_index::HitTest hit_test{usable_now, &now, counted};
    if (shared_index::usable() &&
        shared_index::find(catalog::entries_oid(), key, entry, &hit_test))
        return true;
    return cache_store::lookup(key, entry);
}

// An entry of another mode that answers identity's row set although it is
// not its key (identity->served_by: a grouped exact registration).
bool find_serving_entry(const QueryIdentity *identity, Entry *entry, TimestampTz now,
                        bool *counted)
{
    ListCell *lc;
    foreach (lc, identity->served_by) {
        const auto *served = static_cast<const ServedBy *>(lfirst(lc));
        if (find_entry(served->key, entry, now, counted) && entry->mode != modes::kPeriodic)
            return true;
    }
    return false;
}

} // namespace

bool cache_writable()
{
    return !RecoveryInProgress() && !XactReadOnly;
}

void check_permissions(const QueryIdentity *identity)
{
    (void) ExecCheckRTPerms(identity->permission_rtes, true);
}

namespace {

int64 count_missed(const QueryIdentity *fresh, bool found, Entry &entry);

int64 count_for_reader_in_call(const char *text, ArrayType *params)
{
    query_memo::Lookup memo = query_memo::identity_for(text, params);
    const QueryIdentity *identity = memo.identity;
    // A count reads the text again under the locks it takes, unless it was
    // just read in this call.
    auto counting = [&]() { return memo.derived_now ? identity : derive_identity(text, params); };

    if (!settings::enabled)
        return count_live(counting(), "fast_count.enabled is off");
    if (identity->uncacheable != nullptr)
        return count_live(counting(), identity->uncacheable);

    check_permissions(identity);

    Entry entry;
    // The statement's start is "now" closely enough to judge freshness, and
    // costs no clock read.
    TimestampTz now = GetCurrentStatementStartTimestamp();
    bool hit_counted;
    // An exact count that serves the row set comes before a cached count
    // of its own key (a retroactive count of `q AND col = v`, say).
    bool found = find_serving_entry(identity, &entry, now, &hit_counted) ||
                 find_entry(identity->key, &entry, now, &hit_counted);
    if (found && entry.mode != modes::kPeriodic)  // its mode answers, never a cached count
        return modes::read_count(identity, entry);
    if (found && usable(entry, now)) {
        if (!hit_counted)
            shared_index::note(identity->key, Event::kHit, entry.count_ms);
        if (entry.registered && now >= entry.next_refresh_at)
            worker_control::ensure_worker_running();
        return entry.count;
    }
    if (!cache_writable()) {
        shared_index::note(identity->key, Event::kMiss, 0);
        return count_live(counting(), "the cache cannot be written in this transaction");
    }
    return count_missed(counting(), found, entry);
}

// A miss a reader may keep: counted (or estimated) under the key lock, as
// fast_count() does; fresh has its count_query.
int64 count_missed(const QueryIdentity *fresh, bool found, Entry &entry)
{
    if (key_lock::held() >= key_lock::kMaxHeld)
        return count_live(fresh, "this transaction keeps as many new counts as it may");
    if (settings::estimate_on_miss && !(found && entry.has_count)) {
        // A cold miss: answer from the planner now; the worker counts.
        CountRun estimate = estimate_count(fresh);
        shared_index::note(fresh->key, Event::kMiss, 0);
        if (!key_lock::try_lock(fresh->key))
            return estimate.count;
        if (find_entry_fresh(fresh->key, &entry) && usable(entry, GetCurrentTimestamp())) {
            key_lock::unlock(fresh->key);
            return entry.count;
        }
        key_lock::begin_counting(fresh->key);
        keep_and_release(fresh, estimate, nullptr, false);
        worker_control::worker_needed_at_commit();
        return estimate.count;
    }

    if (!key_lock::try_lock(fresh->key)) {
        // Waiting while holding another key could deadlock with a reader
        // doing the same in the other order; count without caching instead.
        if (key_lock::holding_any())
            return count_live(fresh, "another count of this query is running");
        // Wait for a count in flight, not for the transaction around it.
        if (!key_lock::lock_bounded(fresh->key, grace_ms(found, entry))) {
            if (find_entry_fresh(fresh->key, &entry) && usable(entry, GetCurrentTimestamp())) {
                shared_index::note(fresh->key, Event::kMiss, 0);
                return entry.count;
            }
            return count_live(fresh, "another transaction keeps this query's entry locked");
        }
    }
    // Someone may have published a count between our look and the lock.
    found = find_entry_fresh(fresh->key, &entry);
    if (found && usable(entry, GetCurrentTimestamp())) {
        shared_index::note(fresh->key, Event::kMiss, 0);
        key_lock::unlock(fresh->key);
        return entry.count;
    }

    bytea *signature = change_signature(fresh);
    bool count_wrote;
    CountRun run = count_marked(fresh->key, fresh, &count_wrote);
    // A newer count (an older snapshot's count came late) stays.
    bool newer_known = found && entry.has_count && entry.counted_at > run.started_at;
    if (!newer_known && ((found && entry.registered) || worth_keeping(run))) {
        keep_and_release(fresh, run, signature, count_wrote);
    } else {
        if (!count_wrote && found && !newer_known && !entry.registered &&
            cache_store::row_free(fresh->key))
            cache_store::remove(fresh->key);
        key_lock::unlock(fresh->key);
        key_lock::end_counting(fresh->key);
    }
    // After the store, so that the notes land on the entry it publishes.
    shared_index::note(fresh->key, Event::kMiss, 0);
    shared_index::note(fresh->key, Event::kCount, run.milliseconds);
    return run.count;
}

} // namespace

int64 count_for_reader(const char *text, ArrayType *params)
{
    query_memo::begin_call();
    int64 count = count_for_reader_in_call(text, params);
    query_memo::end_call();
    return count;
}

int64 refresh(const QueryIdentity *identity)
{
    check_permissions(identity);

    Entry before;
    bool had_count = find_entry_fresh(identity->key, &before) && before.has_count &&
                     !before.is_estimate;
    if (!key_lock::try_lock(identity->key)) {
        if (key_lock::holding_any() ||
            !key_lock::lock_bounded(identity->key, grace_ms(had_count, before)))
            return count_live(identity, "another transaction keeps this query's entry locked");
        Entry after;
        if (find_entry_fresh(identity->key, &after) && after.has_count && !after.is_estimate &&
            (!had_count || after.counted_at > before.counted_at)) {
            key_lock::unlock(identity->key);
            return after.count;
        }
    }
    bytea *signature = change_signature(identity);
    bool count_wrote;
    CountRun run = count_marked(identity->key, identity, &count_wrote);
    keep_and_release(identity, run, signature, count_wrote);
    shared_index::note(identity->key, Event::kCount, run.milliseconds);  // after the store
    return run.count;
}

namespace {

// What refresh_entry() read as the owner, copied out of the rolled-back scope.
struct OwnerReading {
    QueryIdentity *identity = nullptr;  // without count_query
    bytea *signature = nullptr;
    bool unchanged = false;  // the tables did not change: the count stands
    TimestampTz checked_at = 0;
    CountRun run{};
};

bytea *copy_signature(const bytea *signature, MemoryContext keep)
{
    if (signature == nullptr)
        return nullptr;
    auto *copy = static_cast<bytea *>(MemoryContextAlloc(keep, VARSIZE(signature)));
    memcpy(copy, signature, VARSIZE(signature));
    return copy;
}

// Reads the registered text as its owner in the restricted scope (parse
// analysis runs type input functions, the planner folds immutable ones)
// and, when it still reads as expected_key, counts it unless its tables are
// unchanged. Nothing the owner's code does outlives this.
OwnerReading read_as_owner(const Entry &entry, const pg_uuid_t &expected_key)
{
    OwnerReading reading;
    restricted::run_as(entry.owner, entry.settings, [&](MemoryContext keep) {
        QueryIdentity *identity = derive_identity(entry.query, entry.params);
        if (identity->uncacheable != nullptr)
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("the registered query can no longer be cached: %s",
                                   identity->uncacheable)));
        MemoryContext scratch = MemoryContextSwitchTo(keep);
        reading.identity = copy_identity(identity);
        MemoryContextSwitchTo(scratch);
        if (!same_key(identity->key, expected_key))
            return;
        bytea *signature = change_signature(identity);
        TimestampTz now = GetCurrentTimestamp();
        bool recount_due = settings::force_recount_after >= 0 &&
                           now >= entry.counted_at + seconds(settings::force_recount_after);
        if (entry.has_count && !entry.is_estimate && !recount_due &&
            same_signature(signature, entry.change_signature)) {
            // Not counting, but the owner must still be allowed to.
            check_permissions(identity);
            reading.unchanged = true;
            reading.checked_at = now;
        } else {
            pgstat_report_activity(STATE_RUNNING, psprintf("fast_count: counting %s", entry.query));
            reading.run = run_count(identity, Shared::kNo);  // restricted already
            reading.signature = copy_signature(signature, keep);
        }
    });
    return reading;
}

// Locks the relations the entry last read, for the transaction. Reading
// its text would lock them, but only inside the owner's scope, whose
// rollback releases them, and after the key lock: DROP and TRUNCATE take
// the relation first and then (in their event and exact-mode triggers) the
// key, so the worker must take them in that order too.
void lock_relations_read(const pg_uuid_t &key)
{
    List *relids;
    List *tables;
    cache_store::relations_of(key, &relids, &tables);
    List *relations = list_concat_unique_oid(relids, tables);
    list_sort(relations, list_oid_cmp);
    ListCell *lc;
    foreach (lc, relations)
        LockRelationOid(lfirst_oid(lc), AccessShareLock);
}

} // namespace

WorkerResult refresh_entry(const pg_uuid_t &key)
{
    WorkerResult result{Outcome::kGone, 0, 0.0, nullptr};
    Entry entry;
    if (!cache_store::lookup(key, &entry, true) || !(entry.registered || entry.is_estimate))
        return result;
    result.query = entry.query;
    TimestampTz now = GetCurrentTimestamp();
    if (entry.has_next_refresh_at && entry.next_refresh_at > now) {
        result.outcome = Outcome::kNotDue;
        return result;
    }
    restricted::check_owner_exists(entry.owner);
    lock_relations_read(key);

    // Key locks are the transaction's: taken here, outside the owner's
    // scope, whose rollback would release them. A row another open
    // transaction holds would make the store wait: busy, next time.
    if (!key_lock::try_lock(key) || !cache_store::row_free(key)) {
        result.outcome = Outcome::kBusy;
        return result;
    }
    if (!cache_store::lookup(key, &entry, true) || !(entry.registered || entry.is_estimate) ||
        (entry.has_next_refresh_at && entry.next_refresh_at > GetCurrentTimestamp())) {
        result.outcome = entry.registered ? Outcome::kNotDue : Outcome::kGone;
        return result;
    }

    // Readers that find the key locked wait for this count, and no longer.
    key_lock::begin_counting(key);
    OwnerReading reading = read_as_owner(entry, key);
    key_lock::end_counting(key);
    const QueryIdentity *identity = reading.identity;
    if (!same_key(identity->key, key)) {
        // The text now reads other relations (a table was recreated, or the
        // database was restored): the registration follows the text.
        ListCell *lc;
        foreach (lc, identity->tables)
            LockRelationOid(lfirst_oid(lc), AccessShareLock);
        if (!key_lock::try_lock(identity->key) || !cache_store::row_free(identity->key)) {
            result.outcome = Outcome::kBusy;
            return result;
        }
        Entry moved = entry;
        moved.has_count = false;  // counted afresh under the new key
        key_lock::begin_counting(identity->key);
        OwnerReading counted = read_as_owner(moved, identity->key);
        key_lock::end_counting(identity->key);
        if (!same_key(counted.identity->key, identity->key)) {
            result.outcome = Outcome::kBusy;  // changed again meanwhile: next time
            return result;
        }
        ereport(settings::log_level,
                (errmsg("fast_count: registered query now reads other relations; moving "
                        "it from key %s to %s",
                        key_to_cstring(key), key_to_cstring(identity->key))));
        if (entry.registered)
            cache_store::register_query(identity, entry.refresh_every_us, entry.owner,
                                        entry.settings, entry.registered_at);
        cache_store::remove(key);
        cache_store::store_count(counted.identity, counted.run, counted.signature);
        shared_index::note(identity->key, Event::kCount, counted.run.milliseconds);
        return {Outcome::kRefreshed, counted.run.count, counted.run.milliseconds, entry.query};
    }
    if (reading.unchanged) {
        cache_store::confirm_count(key, reading.checked_at);
        return {Outcome::kUnchanged, entry.count, 0.0, result.query};
    }
    cache_store::store_count(identity, reading.run, reading.signature);
    shared_index::note(key, Event::kCount, reading.run.milliseconds);
    return {Outcome::kRefreshed, reading.run.count, reading.run.milliseconds, result.query};
}

bool serve_transparent(const QueryIdentity *identity, Transparent level,
                       TransparentAnswer *answer)
{
    if (!settings::enabled || identity->uncacheable != nullptr)
        return false;
    TimestampTz now = GetCurrentStatementStartTimestamp();
    Entry entry;
    bool counted;
    bool found = find_serving_entry(identity, &entry, now, &counted) ||
                 find_entry_fresh(identity->key, &entry);
    if (found && entry.mode != modes::kPeriodic) {
        // The mode's answer under the caller's own snapshot and pending
        // writes, or the statement's own plan.
        if (!modes::read_without_counting(identity, entry, &answer->count))
            return false;
        answer->source = modes::name_of(entry);
        answer->counted_at = 0;
        shared_index::note(entry.key, Event::kHit, 0);
        return true;
    }
    // A cached count does not hold this transaction's own writes: the
    // statement runs as written.
    if (level == Transparent::kExact || TransactionIdIsValid(GetTopTransactionIdIfAny()))
        return false;
    // The shared index may hold an older state of the row than the table
    // (a count written while another transaction held the row); a miss
    // here stores nothing that would fix it, so the table decides.
    if (found && !usable(entry, now))
        found = cache_store::lookup(identity->key, &entry);
    if (found && usable(entry, now) && (entry.registered || level == Transparent::kAll)) {
        shared_index::note(identity->key, Event::kHit, entry.count_ms);
        if (entry.registered && now >= entry.next_refresh_at)
            worker_control::ensure_worker_running();
        answer->count = entry.count;
        answer->source = entry.registered ? "registered" : "cached";
        answer->counted_at = entry.counted_at;
        return true;
    }
    if (level != Transparent::kAll || !cache_writable() || IsInParallelMode())
        return false;
    answer->count = count_missed(identity, found, entry);
    answer->source = "counted";
    answer->counted_at = GetCurrentTimestamp();
    return true;
}

} // namespace fast_count::refresher
