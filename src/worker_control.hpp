// Worker control, from the backends' side: find the worker of a database,
// start one when it is needed, wake it when a registration commits.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace fast_count::worker_control {

extern const char *const kWorkerType;
extern const char *const kLauncherType;

// Registers the launcher; only from _PG_init of a preloaded library.
void register_launcher();

// Whether fast_count.databases lets a worker serve this database.
bool database_is_served(const char *database_name);

// pid of the worker serving database, or 0.
int find_worker(Oid database);

// Starts a worker for database; it waits for transaction wait_for (if
// valid) to end before it looks at the database.
bool start_worker(Oid database, TransactionId wait_for);

// After a registration: makes sure this database has a worker and wakes it
// when the current transaction commits.
void worker_needed_at_commit();

// A reader found a registered count past its refresh time: start the worker
// if none runs (at most once per naptime per backend).
void ensure_worker_running();

// CREATE EXTENSION in this database: a preloaded launcher serves it again.
void extension_installed();

// Transaction callback.
void at_transaction_end(bool committed);

} // namespace fast_count::worker_control
