#include "worker_control.hpp"

#include "settings.hpp"
#include "shared_state.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
}

namespace fast_count::worker_control {

const char *const kWorkerType = "fast_count worker";
const char *const kLauncherType = "fast_count launcher";

namespace {

int pid_to_wake = 0;
TimestampTz last_ensure = 0;

void fill_common(BackgroundWorker *worker)
{
    memset(worker, 0, sizeof(*worker));
    worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
    strlcpy(worker->bgw_library_name, "fast_count", BGW_MAXLEN);
}

} // namespace

void register_launcher()
{
    BackgroundWorker worker;
    fill_common(&worker);
    strlcpy(worker.bgw_function_name, "fast_count_launcher_main", BGW_MAXLEN);
    strlcpy(worker.bgw_name, kLauncherType, BGW_MAXLEN);
    strlcpy(worker.bgw_type, kLauncherType, BGW_MAXLEN);
    worker.bgw_restart_time = 10;
    RegisterBackgroundWorker(&worker);
}

bool database_is_served(const char *database_name)
{
    if (settings::databases == nullptr || settings::databases[0] == '\0')
        return true;
    char *copy = pstrdup(settings::databases);
    List *names = NIL;
    if (!SplitIdentifierString(copy, ',', &names))
        return false;
    ListCell *lc;
    foreach (lc, names)
        if (strcmp(static_cast<char *>(lfirst(lc)), database_name) == 0)
            return true;
    return false;
}

int find_worker(Oid database)
{
    int backends = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= backends; i++) {
        LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
        if (local == nullptr)
            continue;
        PgBackendStatus *status = &local->backendStatus;
        if (status->st_backendType != B_BG_WORKER || status->st_databaseid != database)
            continue;
        const char *type = GetBackgroundWorkerTypeByPid(status->st_procpid);
        if (type != nullptr && strcmp(type, kWorkerType) == 0)
            return status->st_procpid;
    }
    return 0;
}

bool start_worker(Oid database, TransactionId wait_for)
{
    BackgroundWorker worker;
    fill_common(&worker);
    strlcpy(worker.bgw_function_name, "fast_count_worker_main", BGW_MAXLEN);
    snprintf(worker.bgw_name, BGW_MAXLEN, "%s for database %u", kWorkerType, database);
    strlcpy(worker.bgw_type, kWorkerType, BGW_MAXLEN);
    // The launcher (or, without preload, the next reader or registration)
    // starts a worker again; a restart loop of its own would spin on a
    // database that was dropped.
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    worker.bgw_main_arg = ObjectIdGetDatum(database);
    memcpy(worker.bgw_extra, &wait_for, sizeof(wait_for));
    BackgroundWorkerHandle *handle;
    if (RegisterDynamicBackgroundWorker(&worker, &handle))
        return true;
    ereport(WARNING,
            (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
             errmsg("could not start a fast_count worker for database %u", database),
             errhint("All background worker slots are in use; raise max_worker_processes.")));
    return false;
}

void worker_needed_at_commit()
{
    const char *name = get_database_name(MyDatabaseId);
    if (!database_is_served(name)) {
        ereport(WARNING,
                (errmsg("no fast_count worker serves database \"%s\"", name),
                 errdetail("fast_count.databases does not list it, so registered queries are "
                           "refreshed only by readers once they are past fast_count.max_stale.")));
        return;
    }
    pgstat_clear_backend_activity_snapshot();
    int pid = find_worker(MyDatabaseId);
    if (pid != 0)
        pid_to_wake = pid;
    else
        (void) start_worker(MyDatabaseId, GetTopTransactionIdIfAny());
}

void ensure_worker_running()
{
    TimestampTz now = GetCurrentTimestamp();
    if (now < last_ensure + static_cast<int64>(settings::naptime) * USECS_PER_SEC)
        return;
    last_ensure = now;
    if (!database_is_served(get_database_name(MyDatabaseId)))
        return;
    pgstat_clear_backend_activity_snapshot();
    if (find_worker(MyDatabaseId) == 0)
        (void) start_worker(MyDatabaseId, InvalidTransactionId);
}

void extension_installed()
{
    if (!shared_state::available())
        return;
    shared_state::mark_without_extension(MyDatabaseId, false);
    if (database_is_served(get_database_name(MyDatabaseId)))
        (void) start_worker(MyDatabaseId, GetTopTransactionIdIfAny());
}

void at_transaction_end(bool committed)
{
    if (committed && pid_to_wake != 0) {
        // A PGPROC outlives its process, so this is safe even if the worker
        // has exited meanwhile; at worst another process wakes up once.
        PGPROC *proc = BackendPidGetProc(pid_to_wake);
        if (proc != nullptr)
            SetLatch(&proc->procLatch);
    }
    pid_to_wake = 0;
}

} // namespace fast_count::worker_control
