// The one crossing between PostgreSQL (errors are longjmps) and C++ (errors
// are exceptions). A longjmp that skips a C++ destructor is undefined
// behaviour and an exception that escapes into PostgreSQL kills the backend,
// so every entry from PostgreSQL goes through cpp_entry() and every
// PostgreSQL call made while C++ objects are alive goes through pg_call().
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

#include <cstring>
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
        MemoryContext caller_context = CurrentMemoryContext;
        ErrorData *volatile caught = nullptr;
        PG_TRY();
        {
            fn();
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_context);
            caught = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (caught)
            throw PgError(caught);
    }
}

// Runs the body of an SQL-callable function or hook. C++ exceptions are
// turned into PostgreSQL errors only after the C++ scope has unwound.
template <typename Fn>
Datum cpp_entry(Fn &&fn)
{
    static char message[512];
    ErrorData *pg_error = nullptr;
    bool out_of_memory = false;

    message[0] = '\0';
    try {
        return fn();
    } catch (const PgError &e) {
        pg_error = e.data();
    } catch (const std::bad_alloc &) {
        out_of_memory = true;
    } catch (const std::exception &e) {
        strlcpy(message, e.what(), sizeof(message));
    } catch (...) {
        strlcpy(message, "unknown C++ exception", sizeof(message));
    }

    if (pg_error)
        ReThrowError(pg_error);
    if (out_of_memory)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in fast_count")));
    ereport(ERROR,
            (errcode(ERRCODE_INTERNAL_ERROR), errmsg("fast_count internal error: %s", message)));
    pg_unreachable();
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
