// Transparent mode, a count whose own plan waits for a miss: over the simple
// protocol every execution plans the statement again, and planning the
// count that a hit never runs was most of what an answered count cost. Such
// a plan is the FastCount node alone; a miss plans the statement then and
// runs it as a statement of its own, under the execution's snapshot and
// parameters.
//
// The plan still says everything the executor and the plan cache need of
// the plain statement's: its range table holds every relation the
// statement reads (the executor checks privileges on it and the plan cache
// locks it), its dependencies are the statement's (relationOids,
// invalItems). Only statements whose relations are all in range tables
// (no sublinks, no WITH) are deferred: for those the planner checks exactly
// these relations too.
#pragma once

extern "C" {
#include "postgres.h"

#include "commands/explain.h"
#include "executor/execdesc.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "optimizer/planner.h"
}

namespace fast_count::transparent_deferred {

// Whether statement (a count of row_set) may be deferred at all.
bool deferrable(const Query *statement);

// The plan of statement with scan (the FastCount node, without a child,
// its output set) as its tree.
PlannedStmt *plan_without_child(Query *statement, CustomScan *scan);

// statement planned now with planner (which must not be fast_count's
// hook) and started under estate's snapshot, parameters and
// instrumentation (eflags: only EXEC_FLAG_EXPLAIN_ONLY counts): for EXPLAIN
// (shown under the node), or for a miss. run_started() runs it for its one
// row (false: none); end_statement() ends it (ran: whether it ran).
QueryDesc *start_statement(const Query *statement, const char *text, int options,
                           planner_hook_type planner, EState *estate, int eflags);
bool run_started(QueryDesc *desc, Datum *value, bool *isnull);
void end_statement(QueryDesc *desc, bool ran);
// Prints its plan under the node's (from the node's ExplainCustomScan).
void show_statement(QueryDesc *desc, ExplainState *es);

} // namespace fast_count::transparent_deferred
