#include "pg/pg_boundary.hpp"

extern "C" {
#include "tcop/tcopprot.h"
}

#include <cstring>

namespace fast_count::boundary {

namespace {

void run_catching(void (*body)(void *), void *arg, std::exception_ptr *thrown) noexcept
{
    try {
        body(arg);
    } catch (...) {
        *thrown = std::current_exception();
    }
}

// For bad_alloc: nothing may be allocated to report it.
ErrorData out_of_memory_error()
{
    ErrorData error{};
    error.elevel = ERROR;
    error.sqlerrcode = ERRCODE_OUT_OF_MEMORY;
    error.message = const_cast<char *>("out of memory in fast_count");
    error.assoc_context = ErrorContext;
    return error;
}

// Where an error made here is reported; errstart() decides it for the others.
void set_destinations(ErrorData *error) noexcept
{
    error->output_to_server = true;
    error->output_to_client = whereToSendOutput == DestRemote;
}

ErrorData static_out_of_memory = out_of_memory_error();
ErrorData static_internal_error = [] {
    ErrorData error = out_of_memory_error();
    error.sqlerrcode = ERRCODE_INTERNAL_ERROR;
    error.message = const_cast<char *>("fast_count internal error");
    return error;
}();

ErrorData *internal_error(const char *what) noexcept
{
    auto *error = static_cast<ErrorData *>(
        MemoryContextAllocExtended(CurrentMemoryContext, sizeof(ErrorData),
                                   MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO));
    char *message = static_cast<char *>(
        MemoryContextAllocExtended(CurrentMemoryContext, strlen(what) + 32, MCXT_ALLOC_NO_OOM));
    set_destinations(&static_internal_error);
    if (error == nullptr || message == nullptr)
        return &static_internal_error;
    snprintf(message, strlen(what) + 32, "fast_count internal error: %s", what);
    *error = static_internal_error;
    error->message = message;
    return error;
}

} // namespace

ErrorData *call_guarded(void (*body)(void *), void *arg, std::exception_ptr *thrown) noexcept
{
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData *volatile error = nullptr;
    PG_TRY();
    {
        // A C++ exception stops inside this frame: PG_END_TRY must run.
        run_catching(body, arg, thrown);
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        error = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    return error;
}

ErrorData *current_exception_as_error() noexcept
{
    try {
        throw;
    } catch (const PgError &e) {
        if (e.data() != nullptr)
            return e.data();
        set_destinations(&static_internal_error);
        return &static_internal_error;
    } catch (const std::bad_alloc &) {
        set_destinations(&static_out_of_memory);
        return &static_out_of_memory;
    } catch (const std::exception &e) {
        return internal_error(e.what());
    } catch (...) {
        return internal_error("unknown C++ exception");
    }
}

void raise_exception(std::exception_ptr thrown, const SavedStacks &saved)
{
    // An exception that left a PG_TRY block without its PG_END_TRY leaves
    // these pointing into dead frames; ereport would jump there.
    PG_exception_stack = saved.exception_stack;
    error_context_stack = saved.context_stack;
    ErrorData *error = &static_internal_error;
    try {
        std::rethrow_exception(thrown);
    } catch (...) {
        error = current_exception_as_error();
    }
    ReThrowError(error);
}

void warn_current_exception(const char *where) noexcept
{
    ErrorData *error = current_exception_as_error();
    ereport(WARNING, (errcode(error->sqlerrcode), errmsg("fast_count: %s: %s", where, error->message)));
}

} // namespace fast_count::boundary
