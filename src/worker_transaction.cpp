#include "worker_transaction.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/snapmgr.h"
}

namespace fast_count::worker_transaction::detail {

namespace {

// Logs the error as PostgreSQL would have, had it not been caught.
void log_error(ErrorData *error)
{
    PG_TRY();
    {
        ReThrowError(error);
    }
    PG_CATCH();
    {
        EmitErrorReport();
        FlushErrorState();
    }
    PG_END_TRY();
}

} // namespace

ErrorData *run_once(MemoryContext keep, Body body, void *arg)
{
    MemoryContextSwitchTo(keep);
    ErrorData *error = nullptr;
    try {
        pg_call([&] {
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
        log_error(error);
        AbortCurrentTransaction();
        RESUME_INTERRUPTS();
    }
    MemoryContextSwitchTo(keep);
    return error;
}

} // namespace fast_count::worker_transaction::detail
