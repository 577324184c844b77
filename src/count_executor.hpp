// Runs the count of an analyzed query through the planner and executor.
#pragma once

#include "query_identity.hpp"

extern "C" {
#include "nodes/plannodes.h"
#include "tcop/dest.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"
}

namespace fast_count {

struct CountRun {
    int64 count;
    TimestampTz started_at;  // when the snapshot was taken: the count is as of then
    double milliseconds;     // how long the count took
    bool is_estimate;        // count is the planner's estimate, not a count
};

// Whether a count will be stored or shared with other sessions. A shared
// count runs as the current user in the restricted scope
// (restricted_scope.hpp): its side effects are rolled back and what the
// query's code may do is what REFRESH MATERIALIZED VIEW allows. A count
// that only the caller sees runs as the caller's own statement would.
// Inside a restricted scope already (the worker's owner scope): kNo.
enum class Shared : bool { kNo, kYes };

// Counts under a snapshot taken now, with the current user's privileges.
CountRun run_count(const QueryIdentity *identity, Shared shared);

// Counts under the given snapshot (exact mode: a reader's own snapshot, or
// the one a backfill's base is taken under).
int64 count_under(const QueryIdentity *identity, Snapshot snapshot);

// Runs a planned SELECT to its end under snapshot, each row to receiver
// (exact mode's per-group count receives the group columns).
void run_plan(PlannedStmt *plan, const char *text, Snapshot snapshot, DestReceiver *receiver);

// The planner's estimate of the number of rows, without running the query
// (it is stored: planning runs immutable functions, so in the restricted
// scope).
CountRun estimate_count(const QueryIdentity *identity);

} // namespace fast_count
