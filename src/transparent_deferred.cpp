#include "transparent_deferred.hpp"

extern "C" {
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "jit/jit.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "tcop/dest.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace fast_count::transparent_deferred {

namespace {

// The relations of statement and of its subqueries, each level's own first
// (the order the planner's flat range table has them in). The statement's
// own entries, not copies: the plan keeps the statement unplanned and
// unmodified, and a plan is read-only to the executor.
void collect_relations(const Query *query, List **relations)
{
    ListCell *lc;
    foreach (lc, query->rtable) {
        RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
        if (rte->rtekind == RTE_RELATION)
            *relations = lappend(*relations, rte);
    }
    foreach (lc, query->rtable) {
        RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
        if (rte->rtekind == RTE_SUBQUERY)
            collect_relations(rte->subquery, relations);
    }
}

// Keeps the first row the statement returns (a count returns one).
struct FirstRow {
    DestReceiver pub;
    MemoryContext context;
    bool got;
    bool isnull;
    Datum value;
};

bool first_row_receive(TupleTableSlot *slot, DestReceiver *self)
{
    auto *receiver = reinterpret_cast<FirstRow *>(self);
    if (receiver->got)
        return true;
    bool isnull = false;
    Datum value = slot_getattr(slot, 1, &isnull);
    if (!isnull) {
        const FormData_pg_attribute *attr = TupleDescAttr(slot->tts_tupleDescriptor, 0);
        MemoryContext caller = MemoryContextSwitchTo(receiver->context);
        value = datumCopy(value, attr->attbyval, attr->attlen);
        MemoryContextSwitchTo(caller);
    }
    receiver->value = isnull ? Datum(0) : value;
    receiver->isnull = isnull;
    receiver->got = true;
    return true;
}

void first_row_startup(DestReceiver *, int, TupleDesc) {}
void first_row_shutdown(DestReceiver *) {}
void first_row_destroy(DestReceiver *) {}

} // namespace

bool deferrable(const Query *statement)
{
    // A sublink or a WITH query the planner folds away or leaves unplanned
    // is not in its range table, so not checked; this plan could not tell.
    if (statement->hasSubLinks || statement->cteList != NIL || statement->hasRowSecurity)
        return false;
    ListCell *lc;
    foreach (lc, statement->rtable) {
        const RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
        if (rte->rtekind == RTE_SUBQUERY && !deferrable(rte->subquery))
            return false;
    }
    return true;
}

PlannedStmt *plan_without_child(Query *statement, CustomScan *scan)
{
    const TargetEntry *count = linitial_node(TargetEntry, statement->targetList);
    const Node *expr = reinterpret_cast<const Node *>(count->expr);
    Plan *plan = &scan->scan.plan;
    plan->startup_cost = 0;
    plan->total_cost = 0;
    plan->plan_rows = 1;
    plan->plan_width = get_typavgwidth(exprType(expr), exprTypmod(expr));
    plan->plan_node_id = 0;

    PlannedStmt *stmt = makeNode(PlannedStmt);
    stmt->commandType = CMD_SELECT;
    stmt->queryId = statement->queryId;
    stmt->canSetTag = statement->canSetTag;
    stmt->jitFlags = PGJIT_NONE;
    stmt->planTree = plan;
    collect_relations(statement, &stmt->rtable);
    bool row_security = false;
    // What the plan cache watches: what the statement's own plan would.
    extract_query_dependencies(reinterpret_cast<Node *>(statement), &stmt->relationOids,
                               &stmt->invalItems, &row_security);
    stmt->dependsOnRole = row_security;
    stmt->stmt_location = statement->stmt_location;
    stmt->stmt_len = statement->stmt_len;
    return stmt;
}

QueryDesc *start_statement(const Query *statement, const char *text, int options,
                           planner_hook_type planner, EState *estate, int eflags)
{
    Query *copy = static_cast<Query *>(copyObjectImpl(statement));
    // Counted once, as the statement it runs for (pg_stat_statements).
    copy->queryId = 0;
    ParamListInfo params = estate->es_param_list_info;
    PlannedStmt *stmt = planner(copy, text, options, params);

    auto *receiver = static_cast<FirstRow *>(palloc0(sizeof(FirstRow)));
    receiver->pub.receiveSlot = first_row_receive;
    receiver->pub.rStartup = first_row_startup;
    receiver->pub.rShutdown = first_row_shutdown;
    receiver->pub.rDestroy = first_row_destroy;
    receiver->pub.mydest = DestNone;
    receiver->context = CurrentMemoryContext;

    QueryDesc *desc = CreateQueryDesc(stmt, text, estate->es_snapshot, InvalidSnapshot,
                                      &receiver->pub, params, estate->es_queryEnv,
                                      estate->es_instrument);
    ExecutorStart(desc, eflags & EXEC_FLAG_EXPLAIN_ONLY);
    return desc;
}

bool run_started(QueryDesc *desc, Datum *value, bool *isnull)
{
    ExecutorRun(desc, ForwardScanDirection, 0, true);
    ExecutorFinish(desc);
    const auto *receiver = reinterpret_cast<const FirstRow *>(desc->dest);
    *value = receiver->value;
    *isnull = receiver->isnull;
    return receiver->got;
}

void end_statement(QueryDesc *desc, bool ran)
{
    // A statement started for EXPLAIN ANALYZE that a hit never ran.
    if (!ran && (desc->estate->es_top_eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0)
        ExecutorFinish(desc);
    ExecutorEnd(desc);
    FreeQueryDesc(desc);
}

void show_statement(QueryDesc *desc, ExplainState *es)
{
    // EXPLAIN's state of the plan it prints, for the rest of it; the
    // settings are the statement's already.
    PlannedStmt *pstmt = es->pstmt;
    List *rtable = es->rtable;
    List *rtable_names = es->rtable_names;
    List *deparse_cxt = es->deparse_cxt;
    Bitmapset *printed_subplans = es->printed_subplans;
    bool hide_workers = es->hide_workers;
    bool settings = es->settings;
    es->settings = false;
    ExplainPrintPlan(es, desc);
    // Where EXPLAIN prints it for a statement (the node's is empty).
    if (es->costs)
        ExplainPrintJITSummary(es, desc);
    es->pstmt = pstmt;
    es->rtable = rtable;
    es->rtable_names = rtable_names;
    es->deparse_cxt = deparse_cxt;
    es->printed_subplans = printed_subplans;
    es->hide_workers = hide_workers;
    es->settings = settings;
}

} // namespace fast_count::transparent_deferred
