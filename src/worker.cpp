// The background worker of one database: refreshes registered queries when
// they are due, drops expired retroactive counts, and survives an error in
// any single query. Its loop follows contrib's autoprewarm and pg_cron.
#include "cache_store.hpp"
#include "catalog.hpp"
#include "key_lock.hpp"
#include "mode_registry.hpp"
#include "pg/pg_boundary.hpp"
#include "pg/worker_transaction.hpp"
#include "refresher.hpp"
#include "settings.hpp"
#include "shared_index.hpp"
#include "shared_state.hpp"
#include "worker_control.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

namespace fast_count::worker {

namespace {

// How often the worker checks whether someone waits to drop, rename or copy
// its database; such commands fail while another process is connected.
constexpr long kDatabaseCheckMs = 1000;

MemoryContext cycle_context = nullptr;
const char *database_name = "";

LOCKTAG database_tag()
{
    LOCKTAG tag;
    SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
    return tag;
}

void exit_worker(const char *why)
{
    ereport(LOG, (errmsg("fast_count worker for database \"%s\" exits: %s", database_name, why)));
    proc_exit(0);
}

int64 retry_delay_us(int failures, int64 refresh_every_us)
{
    int64 delay = 10 * USECS_PER_SEC;
    for (int i = 0; i < failures && delay < refresh_every_us; i++)
        delay *= 2;
    return Min(delay, Max(refresh_every_us, 10 * USECS_PER_SEC));
}

// Records a failed refresh on its entry: the count is kept, the retry waits.
void report_failure(const pg_uuid_t &key, ErrorData *error)
{
    fault::point(fault::kWorkerRecord);
    cache_store::Entry entry;
    // A row another open transaction holds would make us wait: the next
    // cycle tries again anyway.
    if (key_lock::try_lock(key) && cache_store::row_free(key) &&
        cache_store::lookup(key, &entry, true) && (entry.registered || entry.is_estimate)) {
        TimestampTz retry_at =
            GetCurrentTimestamp() + retry_delay_us(entry.failures, entry.refresh_every_us);
        cache_store::record_failure(key, error->message, retry_at);
        ereport(WARNING,
                (errmsg("fast_count: refresh of registered query failed: %s", error->message),
                 errdetail("Query: %s", entry.query),
                 errhint("The cached count is kept; the worker tries again at %s.",
                         timestamptz_to_str(retry_at))));
    }
}

// Refreshes one registered entry in a transaction of its own. Returns false
// when the entry should be looked at again soon: it was busy (someone else
// is counting it), or its failure could not be recorded.
bool refresh_one(const pg_uuid_t &key)
{
    bool busy = false;
    worker_transaction::Result done = worker_transaction::run(
        cycle_context,
        [&] {
            fault::point(fault::kWorkerRefresh);
            pgstat_report_activity(STATE_RUNNING, "fast_count: checking a registered query");
            refresher::WorkerResult result = refresher::refresh_entry(key);
            if (result.outcome == refresher::Outcome::kUnchanged)
                ereport(DEBUG1, (errmsg("fast_count: tables unchanged, count of %lld kept",
                                        static_cast<long long>(result.count)),
                                 errdetail("Query: %s", result.query)));
            if (result.outcome == refresher::Outcome::kRefreshed) {
                ereport(settings::log_level,
                        (errmsg("fast_count: refreshed registered query: %lld rows in %.1f ms",
                                static_cast<long long>(result.count), result.milliseconds),
                         errdetail("Query: %s", result.query)));
            }
            busy = result.outcome == refresher::Outcome::kBusy;
        },
        [&](ErrorData *error) { report_failure(key, error); });
    return !busy && done != worker_transaction::Result::kFailedUnrecorded;
}

void drop_expired(List *keys)
{
    shared_index::forget_expired(GetCurrentTimestamp());
    if (keys == NIL)
        return;
    StartTransactionCommand();
    ListCell *lc;
    int dropped = 0;
    foreach (lc, keys) {
        const pg_uuid_t &key = *static_cast<pg_uuid_t *>(lfirst(lc));
        cache_store::Entry entry;
        if (!key_lock::try_lock(key) || !cache_store::row_free(key))
            continue;
        if (cache_store::lookup(key, &entry) && !entry.registered &&
            (!entry.has_expires_at || entry.expires_at <= GetCurrentTimestamp())) {
            cache_store::remove(key);
            dropped++;
        }
    }
    CommitTransactionCommand();
    if (dropped > 0)
        ereport(DEBUG1, (errmsg("fast_count: dropped %d expired cached count(s)", dropped)));
}

// One pass over the registry. Returns when the worker should look again.
TimestampTz run_cycle()
{
    MemoryContextReset(cycle_context);
    MemoryContext caller_context = MemoryContextSwitchTo(cycle_context);

    TimestampTz now = GetCurrentTimestamp();
    TimestampTz next_wake = now + static_cast<int64>(settings::naptime) * USECS_PER_SEC;

    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    if (!OidIsValid(get_extension_oid("fast_count", true))) {
        shared_state::mark_without_extension(MyDatabaseId, true);
        exit_worker("extension \"fast_count\" is not installed");
    }
    MemoryContextSwitchTo(cycle_context);
    List *due = settings::enabled ? cache_store::due_keys(now, &next_wake) : NIL;
    List *expired = cache_store::expired_keys(now);
    PopActiveSnapshot();
    CommitTransactionCommand();
    MemoryContextSwitchTo(cycle_context);

    ListCell *lc;
    bool any_refreshed = false;
    foreach (lc, due) {
        CHECK_FOR_INTERRUPTS();
        if (!refresh_one(*static_cast<pg_uuid_t *>(lfirst(lc))))
            next_wake = Min(next_wake, GetCurrentTimestamp() + USECS_PER_SEC);
        else
            any_refreshed = true;
    }
    drop_expired(expired);
    next_wake = modes::run_worker_tasks(next_wake);  // each mode's own tasks

    // Refreshed entries have new due times; look again right away.
    if (any_refreshed)
        next_wake = Min(next_wake, GetCurrentTimestamp());
    MemoryContextSwitchTo(caller_context);
    return next_wake;
}

// Fills the shared index with this database's entries (after a server
// start it is empty). Each key is read and published under its lock, so a
// concurrent writer's newer version is never overwritten.
void load_index()
{
    if (!shared_index::usable())
        return;
    StartTransactionCommand();
    Oid catalog = catalog::entries_oid();
    shared_index::forget_other_catalogs(catalog);
    List *keys = cache_store::all_keys();
    int loaded = 0;
    ListCell *lc;
    foreach (lc, keys) {
        const pg_uuid_t &key = *static_cast<pg_uuid_t *>(lfirst(lc));
        Entry entry;
        if (!key_lock::try_lock(key))
            continue;
        if (cache_store::lookup(key, &entry)) {
            shared_index::publish_now(catalog, entry);
            loaded++;
        }
        key_lock::unlock(key);
    }
    CommitTransactionCommand();
    ereport(DEBUG1, (errmsg("fast_count: loaded %d entries into the shared index", loaded)));
}

void main_loop()
{
    LOCKTAG database = database_tag();
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
            if (!worker_control::database_is_served(database_name))
                exit_worker("fast_count.databases no longer lists this database");
        }
        // An aborted transaction releases session locks too (ProcReleaseLocks):
        // take it again after a refresh or exact-mode task failed.
        if (!LockHeldByMe(&database, RowExclusiveLock) &&
            LockAcquire(&database, RowExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
            exit_worker("another session waits to drop, rename or copy the database");
        if (LockHasWaiters(&database, RowExclusiveLock, true))
            exit_worker("another session waits to drop, rename or copy the database");

        TimestampTz next_wake = run_cycle();
        long sleep_ms = 0;
        TimestampTz now = GetCurrentTimestamp();
        if (next_wake > now)
            sleep_ms = static_cast<long>((next_wake - now + 999) / 1000);
        sleep_ms = Min(sleep_ms, kDatabaseCheckMs);
        if (sleep_ms == 0 && next_wake <= now)
            continue;

        pgstat_report_activity(STATE_IDLE, "fast_count: waiting for the next refresh");
        (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms,
                         PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}

void wait_for_starter(TransactionId starter)
{
    if (!TransactionIdIsValid(starter))
        return;
    StartTransactionCommand();
    XactLockTableWait(starter, nullptr, nullptr, XLTW_None);
    CommitTransactionCommand();
}

// PostgreSQL releases a process's advisory session locks when it exits,
// but not other session locks: the database lock goes here (if an aborted
// transaction has not taken it already, see main_loop()).
void release_database_lock(int, Datum)
{
    LOCKTAG database = database_tag();
    if (LockHeldByMe(&database, RowExclusiveLock))
        LockRelease(&database, RowExclusiveLock, true);
}

void run(Oid database)
{
    TransactionId starter;
    memcpy(&starter, MyBgworkerEntry->bgw_extra, sizeof(starter));

    BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
    pgstat_report_appname(worker_control::kWorkerType);
    // No JIT in this long-lived process. Once one count is compiled, llvmjit
    // (and LLVM) stays among its loaded libraries, and every parallel worker
    // of every later count loads the leader's libraries before it starts
    // (ParallelWorkerMain: RestoreLibraryState), 15-20 ms each: a 30 ms
    // parallel count took 45 ms here and not in a new session. What JIT
    // gives a count(*) is small (the 10M-row count of the benchmark was
    // slower compiled). The override outlives SIGHUP reloads.
    SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    cycle_context =
        AllocSetContextCreate(TopMemoryContext, "fast_count worker cycle", ALLOCSET_DEFAULT_SIZES);

    wait_for_starter(starter);

    StartTransactionCommand();
    database_name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
    LOCKTAG only_worker = key_lock::worker_tag(MyDatabaseId);
    bool alone = LockAcquire(&only_worker, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
    bool installed = OidIsValid(get_extension_oid("fast_count", true));
    CommitTransactionCommand();

    if (!alone)
        proc_exit(0);
    if (!installed) {
        shared_state::mark_without_extension(MyDatabaseId, true);
        proc_exit(0);
    }
    if (!worker_control::database_is_served(database_name))
        exit_worker("fast_count.databases does not list this database");

    // Holding this lock makes DROP/ALTER DATABASE and CREATE DATABASE ...
    // TEMPLATE wait instead of failing, and lets the loop see them waiting.
    LockSharedObjectForSession(DatabaseRelationId, MyDatabaseId, 0, RowExclusiveLock);
    before_shmem_exit(release_database_lock, 0);
    ereport(LOG, (errmsg("fast_count worker started for database \"%s\"", database_name)));
    load_index();
    main_loop();
}

} // namespace

} // namespace fast_count::worker

extern "C" {

PGDLLEXPORT void fast_count_worker_main(Datum main_arg);

void fast_count_worker_main(Datum main_arg)
{
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    pqsignal(SIGINT, StatementCancelHandler);
    BackgroundWorkerUnblockSignals();
    (void) fast_count::cpp_entry([main_arg] {
        fast_count::worker::run(DatumGetObjectId(main_arg));
        return static_cast<Datum>(0);
    });
}

} // extern "C"
