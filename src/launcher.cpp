// The launcher of a preloaded fast_count: connected to no database, it
// makes sure every database that may have the extension has a worker. A
// worker that finds no extension marks its database so that the launcher
// leaves it alone until CREATE EXTENSION runs there.
#include "pg/pg_boundary.hpp"
#include "settings.hpp"
#include "shared_index.hpp"
#include "shared_state.hpp"
#include "worker_control.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"
}

namespace fast_count::launcher {

namespace {

struct Database {
    Oid oid;
    char *name;
};

List *connectable_databases(MemoryContext into)
{
    List *databases = NIL;
    StartTransactionCommand();
    (void) GetTransactionSnapshot();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection))) {
        Form_pg_database form = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
        if (form->datistemplate || !form->datallowconn || database_is_invalid_form(form))
            continue;
        MemoryContext previous = MemoryContextSwitchTo(into);
        auto *database = static_cast<Database *>(palloc(sizeof(Database)));
        database->oid = form->oid;
        database->name = pstrdup(NameStr(form->datname));
        databases = lappend(databases, database);
        MemoryContextSwitchTo(previous);
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
    return databases;
}

void run()
{
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    MemoryContext pass_context =
        AllocSetContextCreate(TopMemoryContext, "fast_count launcher", ALLOCSET_DEFAULT_SIZES);
    ereport(LOG, (errmsg("fast_count launcher started")));

    for (;;) {
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        MemoryContextReset(pass_context);
        MemoryContext previous = MemoryContextSwitchTo(pass_context);
        List *databases = connectable_databases(pass_context);
        MemoryContextSwitchTo(pass_context);
        pgstat_clear_backend_activity_snapshot();
        List *existing = NIL;
        ListCell *lc;
        foreach (lc, databases)
            existing = lappend_oid(existing, static_cast<Database *>(lfirst(lc))->oid);
        shared_index::forget_databases_except(existing);
        foreach (lc, databases) {
            auto *database = static_cast<Database *>(lfirst(lc));
            if (!worker_control::database_is_served(database->name) ||
                shared_state::is_without_extension(database->oid) ||
                worker_control::find_worker(database->oid) != 0)
                continue;
            if (!worker_control::start_worker(database->oid, InvalidTransactionId))
                break;
        }
        pgstat_clear_backend_activity_snapshot();
        MemoryContextSwitchTo(previous);

        (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                         static_cast<long>(settings::naptime) * 1000L, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}

} // namespace

} // namespace fast_count::launcher

extern "C" {

PGDLLEXPORT void fast_count_launcher_main(Datum main_arg);

void fast_count_launcher_main(Datum)
{
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    (void) fast_count::cpp_entry([] {
        fast_count::launcher::run();
        return static_cast<Datum>(0);
    });
}

} // extern "C"
