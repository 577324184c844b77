// The one crossing between PostgreSQL (errors are longjmps) and C++ (errors
// are exceptions), in both directions. A longjmp that skips a C++ destructor
// is undefined behaviour, an exception that escapes into PostgreSQL kills the
// backend, and an exception that leaves a PG_TRY block leaves
// PG_exception_stack pointing at a dead frame (the next ERROR then jumps
// into it). So:
// - every entry from PostgreSQL goes through cpp_entry() (C++ -> PostgreSQL:
//   exceptions become ereport after the C++ scope has unwound);
// - every PostgreSQL call made while C++ objects are alive goes through
//   pg_call() (PostgreSQL -> C++: an ERROR becomes PgError; a C++ exception
//   thrown by the callable is caught inside the PG_TRY frame and rethrown
//   only after PG_END_TRY restored PG_exception_stack and error_context_stack);
// - callbacks that PostgreSQL calls where an ERROR would be a PANIC
//   (COMMIT, ABORT) go through no_throw(), which logs at WARNING.
// The idea follows pg_duckdb's InvokeCPPFunc / PgExceptionGuard.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

#include "pg/fault_injection.hpp"

#include <exception>
#include <new>
#include <type_traits>

namespace fast_count {

// A PostgreSQL error caught by pg_call(), carried through C++ frames.
class PgError final : public std::exception {
public:
    explicit PgError(ErrorData *data) noexcept : data_(data) {}
    ErrorData *data() const noexcept { return data_; }
    const char *what() const noexcept override
    {
        return (data_ && data_->message) ? data_->message : "PostgreSQL error";
    }

private:
    ErrorData *data_;
};

namespace boundary {

// Calls body(arg) inside one PG_TRY frame. Returns the PostgreSQL error it
// raised (copied into the current memory context, error state flushed), or
// nullptr; a C++ exception it threw is stored in *thrown instead.
ErrorData *call_guarded(void (*body)(void *), void *arg, std::exception_ptr *thrown) noexcept;

// The exception being handled as a PostgreSQL error (in the current memory
// context); call from a catch block only.
ErrorData *current_exception_as_error() noexcept;

// What PostgreSQL's error-handling state was on entry; restored when a C++
// exception reaches cpp_entry(), in case some PG_TRY frame it left did not.
struct SavedStacks {
    sigjmp_buf *exception_stack;
    ErrorContextCallback *context_stack;
};

[[noreturn]] void raise_exception(std::exception_ptr thrown, const SavedStacks &saved);

// Logs the exception being handled at WARNING; never throws, never raises.
void warn_current_exception(const char *where) noexcept;

} // namespace boundary

// Runs fn, which may ereport(ERROR); such an error comes out as PgError so
// that the C++ frames in between unwind normally.
template <typename Fn>
auto pg_call(Fn &&fn) -> decltype(fn())
{
    using Result = decltype(fn());
    if constexpr (!std::is_void_v<Result>) {
        Result result{};
        pg_call([&] { result = fn(); });
        return result;
    } else {
        std::exception_ptr thrown;
        ErrorData *error = boundary::call_guarded(
            [](void *arg) {
                fault::point(fault::kPgCall);
                (*static_cast<std::remove_reference_t<Fn> *>(arg))();
            },
            const_cast<void *>(static_cast<const void *>(&fn)), &thrown);
        if (error != nullptr)
            throw PgError(error);
        if (thrown)
            std::rethrow_exception(thrown);
    }
}

// Runs the body of an SQL-callable function or hook. C++ exceptions are
// turned into PostgreSQL errors only after the C++ scope has unwound.
template <typename Fn>
Datum cpp_entry(Fn &&fn)
{
    boundary::SavedStacks saved{PG_exception_stack, error_context_stack};
    std::exception_ptr thrown;
    try {
        return fn();
    } catch (...) {
        thrown = std::current_exception();
    }
    boundary::raise_exception(thrown, saved);
}

// Runs fn where PostgreSQL must not see an ERROR (transaction callbacks at
// COMMIT or ABORT, where it would become a PANIC): any error is logged at
// WARNING and dropped.
template <typename Fn>
void no_throw(const char *where, Fn &&fn) noexcept
{
    try {
        fault::point(fault::kCallback);
        pg_call(fn);
    } catch (...) {
        boundary::warn_current_exception(where);
    }
}

} // namespace fast_count

// Defines an SQL-callable function NAME whose body runs behind cpp_entry().
#define FAST_COUNT_FUNCTION(name)                                                                  \
    static Datum name##_body(PG_FUNCTION_ARGS);                                                    \
    extern "C" {                                                                                   \
    PG_FUNCTION_INFO_V1(name);                                                                     \
    Datum name(PG_FUNCTION_ARGS)                                                                   \
    {                                                                                              \
        return fast_count::cpp_entry([fcinfo] { return name##_body(fcinfo); });                    \
    }                                                                                              \
    }                                                                                              \
    static Datum name##_body(PG_FUNCTION_ARGS)
