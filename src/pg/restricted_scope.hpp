// Running work on behalf of a role the way PostgreSQL runs REFRESH
// MATERIALIZED VIEW (ExecRefreshMatView), and stricter: as the role, inside
// SECURITY_RESTRICTED_OPERATION (which refuses deferred triggers, temp
// tables, WITH HOLD cursors and SET ROLE), with its recorded settings in a
// GUC nest level of their own, and inside an internal subtransaction that
// is always rolled back: whatever the role's code wrote or left behind
// (rows, queued trigger events, cursors, settings) dies before the caller's
// user, context and settings are back. What the work must return it copies
// into the memory context it is given.
//
// Locks taken inside are released by the rollback: key locks and locks that
// must outlast the work are taken by the caller, outside.
#pragma once

#include "pg/pg_boundary.hpp"

extern "C" {
#include "utils/array.h"
}

namespace fast_count::restricted {

namespace detail {
using Body = void (*)(void *arg, MemoryContext keep);
void run_as(Oid role, ArrayType *settings, Body body, void *arg);
void in_subtransaction(bool commit, Body body, void *arg);
void persist_as(Oid role, Body body, void *arg);
template <typename Fn>
Body body_of()
{
    return [](void *arg, MemoryContext keep) { (*static_cast<Fn *>(arg))(keep); };
}
} // namespace detail

// Runs work(keep) as role (which must exist), with settings (text[] of
// name=value as capture_reading_settings() makes them, or nullptr for the
// current ones), in the restricted scope above. keep is the caller's memory
// context; work runs in a scratch context that the rollback frees. An error
// (PostgreSQL's or C++'s) is raised again as a C++ exception once the
// scope is gone.
template <typename Fn>
void run_as(Oid role, ArrayType *settings, Fn &&work)
{
    using F = std::remove_reference_t<Fn>;
    detail::run_as(role, settings, detail::body_of<F>(), const_cast<void *>(static_cast<const void *>(&work)));
}

// Runs work(keep) in an internal subtransaction, committed when work
// succeeds (commit) or always rolled back; memory context and resource
// owner are the caller's afterwards. An error is raised again as a C++
// exception after the rollback (the PostgreSQL error as PgError, copied
// into the caller's memory context).
template <typename Fn>
void in_subtransaction(bool commit, Fn &&work)
{
    using F = std::remove_reference_t<Fn>;
    detail::in_subtransaction(commit, detail::body_of<F>(), const_cast<void *>(static_cast<const void *>(&work)));
}

// The same, returning the error (PostgreSQL's, or a C++ exception as one)
// instead of raising it; nullptr when work succeeded.
template <typename Fn>
ErrorData *try_subtransaction(bool commit, Fn &&work)
{
    try {
        in_subtransaction(commit, work);
        return nullptr;
    } catch (...) {
        return boundary::current_exception_as_error();
    }
}

// Runs work(keep) as role inside SECURITY_RESTRICTED_OPERATION but without
// a subtransaction: for our own writes that must persist (exact mode's
// triggers) and whose privilege checks are the role's. It must not run the
// role's code (no query of the role's text).
template <typename Fn>
void persist_as(Oid role, Fn &&work)
{
    using F = std::remove_reference_t<Fn>;
    detail::persist_as(role, detail::body_of<F>(), const_cast<void *>(static_cast<const void *>(&work)));
}

// Raises 42704 when the role that registered a query is gone.
void check_owner_exists(Oid role);

} // namespace fast_count::restricted
