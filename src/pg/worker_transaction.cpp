#include "pg/worker_transaction.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/snapmgr.h"
}

namespace fast_count::worker_transaction::detail {

namespace {

// Logs the error as PostgreSQL would have, had it not been caught, and
// returns a copy in keep: a PgError's data lives where the innermost
// pg_call() was entered, often in the transaction about to be aborted.
ErrorData *log_and_keep(ErrorData *error, MemoryContext keep)
{
    ErrorData *volatile kept = nullptr;
    PG_TRY();
    {
        ReThrowError(error);
    }
    PG_CATCH();
    {
        EmitErrorReport();
        MemoryContextSwitchTo(keep);
        kept = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    return kept;
}

} // namespace

ErrorData *run_once(MemoryContext keep, Body body, void *arg)
{
    MemoryContextSwitchTo(keep);
    ErrorData *error = nullptr;
    try {
        pg_call([&] {
            // now() is the transaction's start, which a background worker
            // must move itself: else a time-relative query counts as of the
            // worker's start.
            SetCurrentStatementStartTimestamp();
            StartTransactionCommand();
            PushActiveSnapshot(GetTransactionSnapshot());
            body(arg);
            PopActiveSnapshot();
            CommitTransactionCommand();
        });
    } catch (...) {
        MemoryContextSwitchTo(keep);
        error = boundary::current_exception_as_error();
    }
    if (error != nullptr) {
        HOLD_INTERRUPTS();
        error = log_and_keep(error, keep);
        AbortCurrentTransaction();
        RESUME_INTERRUPTS();
    }
    MemoryContextSwitchTo(keep);
    return error;
}

} // namespace fast_count::worker_transaction::detail
