// The background worker's "run a step in a transaction of its own; on an
// error, log it, abort, record the failure on the entry, and go on".
#pragma once

#include "pg/pg_boundary.hpp"

namespace fast_count::worker_transaction {

namespace detail {
using Body = void (*)(void *arg);
ErrorData *run_once(MemoryContext keep, Body body, void *arg);
} // namespace detail

// Runs work() in a transaction of its own, under a transaction snapshot.
// When it fails (a PostgreSQL error or a C++ exception) the error is logged
// as the ERROR it was, the transaction aborted, and record(error) (error in
// keep) runs in a second transaction, whose own failure is only logged.
// Memory context afterwards: keep.
enum class Result {
    kDone,
    kFailed,            // and recorded
    kFailedUnrecorded,  // recording failed too: retry soon, not right away
};

template <typename Work, typename Record>
Result run(MemoryContext keep, Work &&work, Record &&record)
{
    auto body = [](void *arg) { (*static_cast<std::remove_reference_t<Work> *>(arg))(); };
    ErrorData *error = detail::run_once(keep, body, const_cast<void *>(static_cast<const void *>(&work)));
    if (error == nullptr)
        return Result::kDone;
    auto recording = [&record, error] { record(error); };
    auto record_body = [](void *arg) { (*static_cast<decltype(recording) *>(arg))(); };
    if (detail::run_once(keep, record_body, &recording) != nullptr)
        return Result::kFailedUnrecorded;
    return Result::kFailed;
}

} // namespace fast_count::worker_transaction
