// Exact mode's background work, run by the worker of each database (and
// by fast_count._exact_fold / _exact_settle on demand):
//
// - rederive: an entry in state 'rederive' (after ALTER TABLE, a dropped
//   partition, a dropped table) is read again from its text as its owner;
//   under SHARE ROW EXCLUSIVE on the table (no writer in flight) its
//   triggers are checked and its predicate swapped, state 'backfill'.
// - backfill: with ONE snapshot S, base = count(S) - sum of the deltas S
//   sees; state 'ready'. Exact because every transaction S does not see
//   began writing after the trigger (or the new predicate) was in place,
//   so its changes are in delta rows that readers add to the base, while
//   those S sees are in the count and subtracted. Writers are not blocked.
// - fold: one key's rows (those committed) are replaced by their sum in one
//   transaction under the key lock: older snapshots keep seeing the old
//   rows, newer ones the sum; rows of writers still in flight are untouched.
// - garbage: delta rows of keys that are no longer exact.
// - switch: a table still counted by 0.3.0's ALWAYS row trigger gets the
//   statement triggers, when SHARE ROW EXCLUSIVE on it is free at once.
#include "exact/exact_worker.hpp"

#include "cache_store.hpp"
#include "count_executor.hpp"
#include "exact/exact_ddl.hpp"
#include "exact/exact_deltas.hpp"
#include "exact/exact_groups.hpp"
#include "exact/exact_registration.hpp"
#include "exact/exact_store.hpp"
#include "key_lock.hpp"
#include "pg/pg_boundary.hpp"
#include "pg/restricted_scope.hpp"
#include "pg/worker_transaction.hpp"
#include "settings.hpp"
#include "worker_control.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/lmgr.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace fast_count::exact_internal {

namespace {

using exact_store::ExactEntry;
using exact_store::Change;
using exact_store::State;

bool same_key(const pg_uuid_t &a, const pg_uuid_t &b)
{
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

bool take_lock(const pg_uuid_t &key, bool wait)
{
    if (wait) {
        key_lock::lock(key);
        return true;
    }
    return key_lock::try_lock(key);
}

// What an exact entry's text reads as now, read as its owner in the
// restricted scope (restricted_scope.hpp) and copied out of it.
struct OwnerRead {
    QueryIdentity *identity = nullptr;  // without count_query; a grouped entry's key
    bool is_eligible = false;
    exact_mode::Eligibility eligibility{InvalidOid, nullptr};
    bool counted = false;
    int64 count = 0;
    List *groups = NIL;  // exact_store::GroupSum *: a grouped entry's count per group
};

enum class Eligible { kAsk, kRequire };

// Reads the entry's text as its owner, with its settings, and tells whether
// it is eligible (kRequire: raises when not, as registering would); when
// snapshot is given and the text still reads as count_key, counts under it.
OwnerRead read_as_owner(const ExactEntry &entry, Eligible eligible_how,
                        const pg_uuid_t *count_key = nullptr, Snapshot snapshot = InvalidSnapshot)
{
    OwnerRead read;
    restricted::run_as(entry.owner, entry.settings, [&](MemoryContext keep) {
        QueryIdentity *identity = derive_identity(entry.query, entry.params);
        exact_mode::Eligibility eligibility{InvalidOid, nullptr};
        const char *why = nullptr;
        bool is_eligible = true;
        if (eligible_how == Eligible::kRequire)
            eligibility = exact_mode::check_eligible(identity);
        else
            is_eligible = eligible(identity, &eligibility, &why);
        // A grouped entry's key is of the text and its group columns.
        // Eligible or not, so that a grouped registration never moves to
        // a plain query's key (or another grouping's); when its columns are
        // gone it stays where it is, not eligible.
        exact_groups::Columns columns;
        if (entry.group_by != nullptr) {
            Oid table = eligibility.table;
            if (!OidIsValid(table) && list_length(identity->relids) == 1)
                table = linitial_oid(identity->relids);
            if (eligible_how == Eligible::kRequire)
                columns = exact_groups::check_columns(table, entry.group_by);
            if (OidIsValid(table) && exact_groups::find_columns_of(table, entry.group_by, &columns)) {
                identity->key = exact_groups::registration_key(identity->key, columns);
            } else {
                identity->key = entry.key;
                is_eligible = false;
            }
        }
        List *groups = NIL;
        if (count_key != nullptr && same_key(identity->key, *count_key)) {
            if (entry.group_by != nullptr)
                groups = exact_groups::count_groups(identity, columns, snapshot);
            else
                read.count = count_under(identity, snapshot);
            read.counted = true;
        }
        MemoryContext scratch = MemoryContextSwitchTo(keep);
        ListCell *lc;
        foreach (lc, groups) {
            auto *group = static_cast<exact_store::GroupSum *>(lfirst(lc));
            auto *copy = static_cast<exact_store::GroupSum *>(palloc(sizeof(exact_store::GroupSum)));
            copy->key = group->key;
            copy->sum = group->sum;
            copy->group = static_cast<bytea *>(palloc(VARSIZE_ANY(group->group)));
            memcpy(copy->group, group->group, VARSIZE_ANY(group->group));
            read.groups = lappend(read.groups, copy);
        }
        read.identity = copy_identity(identity);
        read.is_eligible = is_eligible;
        read.eligibility.table = eligibility.table;
        read.eligibility.predicate =
            eligibility.predicate != nullptr ? pstrdup(eligibility.predicate) : nullptr;
        MemoryContextSwitchTo(scratch);
    });
    return read;
}

bool relation_exists(Oid relid)
{
    return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid));
}

// Whether this transaction holds a lock on table (and each partition)
// that keeps every writer out.
bool writers_excluded(Oid table)
{
    if (!CheckRelationOidLockedByMe(table, ShareRowExclusiveLock, true))
        return false;
    if (get_rel_relkind(table) != RELKIND_PARTITIONED_TABLE)
        return true;
    ListCell *lc;
    foreach (lc, find_all_inheritors(table, NoLock, nullptr))
        if (!CheckRelationOidLockedByMe(lfirst_oid(lc), ShareRowExclusiveLock, true))
            return false;
    return true;
}

// Writes the new key's entry as a ready exact count carried over from key
// (which the caller holds the lock of); false when that cannot be done.
// eligibility: how the text reads now, nullptr when not eligible.
bool carry_count(const pg_uuid_t &key, const ExactEntry &entry, const QueryIdentity *identity,
                 const exact_mode::Eligibility *eligibility_now)
{
    // A grouped count's rows are per group, under keys derived from the
    // registration's: it is counted again at its new key.
    if (entry.state != State::kReady || entry.group_by != nullptr ||
        !writers_excluded(entry.table))
        return false;
    if (eligibility_now == nullptr || eligibility_now->table != entry.table)
        return false;
    const exact_mode::Eligibility &eligibility = *eligibility_now;
    // Every writer has committed or aborted: the latest rows are the count
    // (this transaction's own pending changes move along below).
    exact_store::Sum latest = exact_store::sum(key, nullptr);
    if (latest.base_rows == 0 || !latest.epochs_agree)
        return false;
    exact_store::remove_all(identity->key);
    exact_store::insert_base(identity->key, latest.sum);
    exact_store::update(identity->key, Change().to_mode("exact")
                                             .to_state(State::kReady)
                                             .to_predicate(eligibility.predicate)
                                             .clearing_error());
    exact_deltas::rekey(key, identity->key);
    return true;
}

// Moves the registration of key to identity's key (same owner, interval
// and settings), carrying the count over when allowed and possible, or to
// be re-derived there. carry: how the text reads now when the count may be
// carried over, else nullptr. Runs as the owner, outside the rolled-back
// scope (its writes persist).
void move_registration(const pg_uuid_t &key, const ExactEntry &entry, const QueryIdentity *identity,
                       const exact_mode::Eligibility *carry)
{
    cache_store::Entry old;
    if (!cache_store::lookup(key, &old, true))
        return;
    key_lock::lock(identity->key);
    ExactEntry existing;
    bool already_exact = exact_store::lookup(identity->key, &existing) && existing.exact;
    if (!already_exact) {
        cache_store::register_query(identity, old.refresh_every_us, old.owner, old.settings,
                                    old.registered_at);
        if (carry == nullptr || !carry_count(key, entry, identity, carry)) {
            exact_store::remove_all(identity->key);
            exact_store::update(identity->key, Change().to_mode("exact")
                                                     .to_state(State::kRederive)
                                                     .to_predicate(nullptr)
                                                     .to_group_by(entry.group_by)
                                                     .clearing_error());
        }
    }
    exact_store::remove_all(key);
    cache_store::remove(key);
    if (OidIsValid(entry.table) && relation_exists(entry.table)) {
        drop_triggers_if_unused(entry.table);
        CacheInvalidateRelcacheByRelid(entry.table);
    }
    ereport(settings::log_level,
            (errmsg("fast_count: exact query now reads other relations or types; moving it from "
                    "key %s to %s",
                    key_to_cstring(key), key_to_cstring(identity->key)),
             errdetail("Query: %s", entry.query)));
    worker_control::worker_needed_at_commit();
}

} // namespace

bool follow_text(const pg_uuid_t &key, bool allow_carry)
{
    ExactEntry entry;
    if (!exact_store::lookup(key, &entry, true) || !entry.exact)
        return false;
    OwnerRead read = read_as_owner(entry, Eligible::kAsk);
    if (same_key(read.identity->key, key))
        return false;
    key_lock::lock(key);
    if (!exact_store::lookup(key, &entry, true) || !entry.exact)
        return false;
    const exact_mode::Eligibility *carry =
        allow_carry && read.is_eligible ? &read.eligibility : nullptr;
    restricted::persist_as(entry.owner, [&](MemoryContext) {
        move_registration(key, entry, read.identity, carry);
    });
    return true;
}

Step rederive(const pg_uuid_t &key, bool wait_for_lock)
{
    ExactEntry entry;
    if (!exact_store::lookup(key, &entry, true) || !entry.exact || entry.state != State::kRederive)
        return Step::kNothing;
    OwnerRead read = read_as_owner(entry, Eligible::kRequire);
    if (!same_key(read.identity->key, key)) {
        if (!take_lock(key, wait_for_lock))
            return Step::kBusy;
        restricted::persist_as(entry.owner, [&](MemoryContext) {
            move_registration(key, entry, read.identity, nullptr);
        });
        return Step::kDone;
    }
    const exact_mode::Eligibility &eligibility = read.eligibility;

    // No writer may be in flight while the predicate changes: those after
    // this transaction use the new one, those before have committed.
    lock_table_and_partitions(eligibility.table, ShareRowExclusiveLock);
    if (!take_lock(key, wait_for_lock))
        return Step::kBusy;
    if (!exact_store::lookup(key, &entry, true) || !entry.exact ||
        entry.state != State::kRederive)
        return Step::kNothing;
    // The triggers are created with the owner's privileges, and persist.
    restricted::persist_as(entry.owner, [&](MemoryContext) {
        ensure_triggers(eligibility.table, eligibility.predicate, entry.group_by != nullptr);
        const char *problem = trigger_problem(eligibility.table);
        if (problem != nullptr)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("the exact count cannot be kept: %s", problem),
                            errhint("Enable the trigger (ALTER TABLE ... ENABLE ALWAYS TRIGGER), or "
                                    "unregister the query.")));
    });
    exact_store::remove_all(key);
    exact_store::update(key, Change().to_state(State::kBackfill)
                                   .to_predicate(eligibility.predicate)
                                   .clearing_error());
    CacheInvalidateRelcacheByRelid(eligibility.table);
    return Step::kDone;
}

namespace {

// A grouped count's bases: per group, count(S) - the deltas S sees, for
// every group S counts or has deltas of (rows of writers S does not see
// add to these). Returns the rows counted.
int64 establish_groups(const pg_uuid_t &key, List *counted, Snapshot snapshot)
{
    int64 rows = 0;
    ListCell *lc;
    foreach (lc, counted)
        rows += static_cast<exact_store::GroupSum *>(lfirst(lc))->sum;
    HTAB *bases = exact_store::new_group_sums("fast_count group bases", list_length(counted));
    exact_store::add_group_sums(bases, counted, 1);
    exact_store::add_group_sums(bases, exact_store::group_sums(key, snapshot), -1);
    foreach (lc, exact_store::nonzero_group_sums(bases)) {
        auto *base = static_cast<exact_store::GroupSum *>(lfirst(lc));
        exact_store::insert_group_base(base->key, key, base->group, base->sum);
    }
    return rows;
}

} // namespace

Step backfill(const pg_uuid_t &key, bool wait_for_lock)
{
    ExactEntry entry;
    if (!exact_store::lookup(key, &entry, true) || !entry.exact || entry.state != State::kBackfill)
        return Step::kNothing;
    // The table (ACCESS SHARE) before the key: the order TRUNCATE takes
    // them in. So must the partitions the count reads. Taken here, not by
    // reading the text in the owner's scope, whose rollback releases locks.
    if (OidIsValid(entry.table))
        lock_table_and_partitions(entry.table, AccessShareLock);
    if (!take_lock(key, wait_for_lock))
        return Step::kBusy;
    if (!exact_store::lookup(key, &entry, true) || !entry.exact ||
        entry.state != State::kBackfill)
        return Step::kNothing;

    // One snapshot, taken after the state was read: the triggers were in
    // place for every transaction it does not see.
    instr_time start;
    INSTR_TIME_SET_CURRENT(start);
    PushActiveSnapshot(GetLatestSnapshot());
    Snapshot snapshot = GetActiveSnapshot();
    OwnerRead read = read_as_owner(entry, Eligible::kAsk, &key, snapshot);
    if (!read.counted) {
        // The text reads something else now: re-derive first.
        PopActiveSnapshot();
        exact_store::update(key, Change().to_state(State::kRederive));
        return Step::kDone;
    }
    int64 count = read.count;
    if (entry.group_by != nullptr) {
        count = establish_groups(key, read.groups, snapshot);
        PopActiveSnapshot();
        exact_store::insert_base(key, 0);  // the epoch; the groups hold the counts
    } else {
        exact_store::Sum seen = exact_store::sum(key, snapshot);
        PopActiveSnapshot();
        exact_store::insert_base(key, count - seen.sum);
    }

    exact_store::update(key, Change().to_state(State::kReady).clearing_error());
    instr_time elapsed;
    INSTR_TIME_SET_CURRENT(elapsed);
    INSTR_TIME_SUBTRACT(elapsed, start);
    ereport(settings::log_level,
            (errmsg("fast_count: exact count established: %lld rows in %.1f ms",
                    static_cast<long long>(count), INSTR_TIME_GET_MILLISEC(elapsed)),
             errdetail("Query: %s", entry.query)));
    return Step::kDone;
}

bool switch_to_statement_triggers(Oid table, Oid owner, bool wait_for_lock)
{
    if (!counted_by_old_row_trigger(table))
        return false;
    // No writer in flight while the triggers change (each row change is
    // then counted by the old triggers or by the new ones, never both);
    // the worker waits for none, it tries again on a later pass.
    if (!lock_table_and_partitions(table, ShareRowExclusiveLock, wait_for_lock))
        return false;
    if (!counted_by_old_row_trigger(table))
        return false;
    restricted::persist_as(owner, [&](MemoryContext) { ensure_triggers(table, nullptr, false); });
    CacheInvalidateRelcacheByRelid(table);
    ereport(settings::log_level,
            (errmsg("fast_count: exact counts of table \"%s\" now use statement triggers",
                    get_rel_name(table))));
    return true;
}

namespace {

Step fold_key(const pg_uuid_t &key, bool wait_for_lock, int64 *rows)
{
    *rows = 0;
    if (!take_lock(key, wait_for_lock))
        return Step::kBusy;
    ExactEntry entry;
    if (!exact_store::lookup(key, &entry) || !entry.exact || entry.state != State::kReady)
        return Step::kNothing;
    *rows = exact_store::fold(key);
    if (entry.group_by != nullptr)
        *rows += exact_store::fold_groups(key);
    return *rows > 0 ? Step::kDone : Step::kNothing;
}

// --- the worker's pass ---------------------------------------------------------

enum class Task { kRederive, kBackfill, kFold, kGarbage };

// A grouped count's fold reads every group's rows (a million groups: a
// million rows), so it waits 20 times as long as it took before it runs
// again, and at least as long as a plain count's fold would.
struct GroupedFold {
    pg_uuid_t key;
    TimestampTz next_at;
};
List *grouped_folds = NIL;  // GroupedFold *, in TopMemoryContext

GroupedFold *grouped_fold(const pg_uuid_t &key)
{
    ListCell *lc;
    foreach (lc, grouped_folds) {
        auto *fold = static_cast<GroupedFold *>(lfirst(lc));
        if (same_key(fold->key, key))
            return fold;
    }
    MemoryContext caller = MemoryContextSwitchTo(TopMemoryContext);
    auto *fold = static_cast<GroupedFold *>(palloc(sizeof(GroupedFold)));
    fold->key = key;
    fold->next_at = 0;
    grouped_folds = lappend(grouped_folds, fold);
    MemoryContextSwitchTo(caller);
    return fold;
}

int cycles = 0;
constexpr int kGarbageEveryCycles = 60;
int switch_cycles = 0;
constexpr int kSwitchEveryCycles = 10;
// Readers sum the rows written since the last fold: while a key gets many
// (more than this per pass), fold it ten times a second.
constexpr int64 kBusyFoldRows = 100;
constexpr int64 kBusyFoldDelayUs = 100 * 1000;
int64 rows_folded = 0;  // by the last fold task

int64 retry_delay_us(int failures)
{
    int64 delay = 10 * USECS_PER_SEC;
    for (int i = 1; i < failures && delay < 300 * USECS_PER_SEC; i++)
        delay *= 2;
    return Min(delay, 300 * USECS_PER_SEC);
}

// Records a failed re-derive or backfill on the entry, under its key lock:
// when to try again; a failed backfill (the text no longer reads, say) is
// re-derived when it is retried. false when the entry is gone or busy.
bool note_failure(const pg_uuid_t &key, const char *message, bool wait, ExactEntry *entry,
                  TimestampTz *retry_at)
{
    if (!take_lock(key, wait) || !exact_store::lookup(key, entry, true) || !entry->exact)
        return false;
    *retry_at = GetCurrentTimestamp() + retry_delay_us(entry->failures + 1);
    Change change = Change().failed(message, *retry_at);
    if (entry->state == State::kBackfill)
        change.to_state(State::kRederive);
    exact_store::update(key, change);
    return true;
}

void record_failure(const pg_uuid_t &key, ErrorData *error)
{
    fault::point(fault::kExactRecord);
    ExactEntry entry;
    TimestampTz retry_at;
    if (note_failure(key, error->message, false, &entry, &retry_at))
        ereport(WARNING,
                (errmsg("fast_count: exact count cannot be kept now: %s", error->message),
                 errdetail("Query: %s", entry.query),
                 errhint("fast_count() counts this query live; the worker tries again at %s.",
                         timestamptz_to_str(retry_at))));
}

void collect_garbage()
{
    List *keys = exact_store::keys_with_rows();
    ListCell *lc;
    foreach (lc, keys) {
        const pg_uuid_t &key = *static_cast<pg_uuid_t *>(lfirst(lc));
        ExactEntry entry;
        if (exact_store::lookup(key, &entry) && entry.exact)
            continue;
        if (!key_lock::try_lock(key))
            continue;
        if (exact_store::lookup(key, &entry) && entry.exact)
            continue;
        exact_store::remove_all(key);
    }
}

// Runs one task in a transaction of its own; an error is reported and
// recorded on the entry, and the worker goes on.
Step run_task(Task task, const pg_uuid_t &key, MemoryContext keep_context)
{
    Step step = Step::kNothing;
    worker_transaction::Result done = worker_transaction::run(
        keep_context,
        [&] {
            fault::point(fault::kExactTask);
            switch (task) {
            case Task::kRederive:
                pgstat_report_activity(STATE_RUNNING, "fast_count: re-deriving an exact query");
                step = rederive(key, false);
                break;
            case Task::kBackfill:
                pgstat_report_activity(STATE_RUNNING,
                                       "fast_count: counting an exact query (backfill)");
                step = backfill(key, false);
                break;
            case Task::kFold: {
                pgstat_report_activity(STATE_RUNNING, "fast_count: folding exact deltas");
                int64 rows;
                step = fold_key(key, false, &rows);
                rows_folded = rows;
                if (rows > 0)
                    ereport(DEBUG1, (errmsg("fast_count: folded %lld delta rows",
                                            static_cast<long long>(rows))));
                break;
            }
            case Task::kGarbage:
                collect_garbage();
                break;
            }
        },
        [&](ErrorData *error) {
            if (task != Task::kFold && task != Task::kGarbage)
                record_failure(key, error);
        });
    pgstat_report_activity(STATE_IDLE, nullptr);
    if (done == worker_transaction::Result::kFailedUnrecorded)
        return Step::kBusy;  // no retry time on the entry: look again in a second
    return done == worker_transaction::Result::kDone ? step : Step::kFailed;
}

} // namespace

TimestampTz run_worker_tasks(TimestampTz next_wake)
{
    MemoryContext keep_context = CurrentMemoryContext;
    StartTransactionCommand();
    MemoryContextSwitchTo(keep_context);
    List *entries = exact_store::available() ? exact_store::exact_entries() : NIL;
    CommitTransactionCommand();
    MemoryContextSwitchTo(keep_context);

    TimestampTz now = GetCurrentTimestamp();
    ListCell *lc;
    foreach (lc, entries) {
        CHECK_FOR_INTERRUPTS();
        auto *entry = static_cast<ExactEntry *>(lfirst(lc));
        bool waiting = entry->has_error && entry->has_next_attempt && entry->next_attempt > now;
        if (waiting && entry->state != State::kReady) {
            next_wake = Min(next_wake, entry->next_attempt);
            continue;
        }
        Step step = Step::kNothing;
        switch (entry->state) {
        case State::kRederive:
            step = run_task(Task::kRederive, entry->key, keep_context);
            if (step != Step::kDone)
                break;
            [[fallthrough]];
        case State::kBackfill:
            step = run_task(Task::kBackfill, entry->key, keep_context);
            break;
        case State::kReady:
            rows_folded = 0;
            if (entry->group_by != nullptr) {
                GroupedFold *fold = grouped_fold(entry->key);
                if (now < fold->next_at) {
                    next_wake = Min(next_wake, fold->next_at);
                    break;
                }
                TimestampTz started = GetCurrentTimestamp();
                step = run_task(Task::kFold, entry->key, keep_context);
                TimestampTz done = GetCurrentTimestamp();
                int64 pause = rows_folded >= kBusyFoldRows ? kBusyFoldDelayUs : USECS_PER_SEC;
                fold->next_at = done + Max(pause, 20 * (done - started));
                next_wake = Min(next_wake, fold->next_at);
                break;
            }
            step = run_task(Task::kFold, entry->key, keep_context);
            if (rows_folded >= kBusyFoldRows)
                next_wake = Min(next_wake, GetCurrentTimestamp() + kBusyFoldDelayUs);
            break;
        case State::kNone:
            break;
        }
        if (step == Step::kBusy)
            next_wake = Min(next_wake, GetCurrentTimestamp() + USECS_PER_SEC);
    }
    // Tables registered before 0.4.0: their row trigger queues an event per
    // row; statement triggers do not.
    if (++switch_cycles >= kSwitchEveryCycles) {
        switch_cycles = 0;
        List *tables = NIL;
        foreach (lc, entries) {
            auto *entry = static_cast<ExactEntry *>(lfirst(lc));
            if (entry->state != State::kReady || list_member_oid(tables, entry->table))
                continue;
            tables = lappend_oid(tables, entry->table);
            Oid table = entry->table;
            Oid owner = entry->owner;
            (void) worker_transaction::run(
                keep_context,
                [&] {
                    pgstat_report_activity(STATE_RUNNING,
                                           "fast_count: switching an exact table to statement triggers");
                    (void) switch_to_statement_triggers(table, owner, false);
                },
                [&](ErrorData *error) {
                    ereport(WARNING, (errmsg("fast_count: exact counts of a table keep their row "
                                             "trigger: %s",
                                             error->message)));
                });
            pgstat_report_activity(STATE_IDLE, nullptr);
        }
    }
    if (++cycles >= kGarbageEveryCycles) {
        cycles = 0;
        pg_uuid_t none{};
        (void) run_task(Task::kGarbage, none, keep_context);
    }
    MemoryContextSwitchTo(keep_context);
    return next_wake;
}

} // namespace fast_count::exact_internal

using namespace fast_count;
using namespace fast_count::exact_internal;

// fast_count._exact_fold(key uuid) returns bigint: rows folded.
FAST_COUNT_FUNCTION(fast_count_exact_fold)
{
    pg_uuid_t key = *PG_GETARG_UUID_P(0);
    int64 rows = 0;
    (void) fold_key(key, true, &rows);
    PG_RETURN_INT64(rows);
}

namespace {

// What _exact_settle does, in a subtransaction: an error is recorded on
// the entry like the worker records it, and the entry stays as it was.
void settle(const pg_uuid_t &key)
{
    ErrorData *error = restricted::try_subtransaction(true, [&](MemoryContext) {
        fault::point(fault::kSettle);
        if (rederive(key, true) == Step::kDone)
            CommandCounterIncrement();
        (void) backfill(key, true);
        ExactEntry entry;
        if (exact_store::lookup(key, &entry) && entry.exact && entry.state == State::kReady)
            (void) switch_to_statement_triggers(entry.table, entry.owner, true);
    });
    if (error != nullptr) {
        ExactEntry entry;
        TimestampTz retry_at;
        (void) note_failure(key, error->message, true, &entry, &retry_at);
    }
}

} // namespace

// fast_count._exact_settle(key uuid) returns text: re-derives and counts
// an entry now (what the worker would do next), returns its state; an
// error is recorded on the entry (last_error).
FAST_COUNT_FUNCTION(fast_count_exact_settle)
{
    pg_uuid_t key = *PG_GETARG_UUID_P(0);
    settle(key);
    ExactEntry entry;
    if (!exact_store::lookup(key, &entry) || !entry.exact)
        PG_RETURN_NULL();
    PG_RETURN_TEXT_P(cstring_to_text(exact_store::state_name(entry.state)));
}
