#include "transparent_scan.hpp"

#include "pg/pg_boundary.hpp"
#include "query_identity.hpp"
#include "query_memo.hpp"
#include "refresher.hpp"
#include "settings.hpp"
#include "transparent_cache.hpp"
#include "transparent_deferred.hpp"
#include "transparent_match.hpp"

extern "C" {
#include "postgres.h"

#include "access/parallel.h"
#include "catalog/namespace.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/planner.h"
#include "tcop/tcopprot.h"
#include "executor/instrument.h"
#include "portability/instr_time.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

namespace fast_count::transparent {

namespace {

planner_hook_type previous_planner = nullptr;
ExplainOneQuery_hook_type previous_explain = nullptr;
// EXPLAIN shows the statement's plan under the node: what it plans is
// never deferred.
int explaining = 0;

PlannedStmt *plan_as_written(Query *parse, const char *text, int options, ParamListInfo bound)
{
    return previous_planner != nullptr ? previous_planner(parse, text, options, bound)
                                       : standard_planner(parse, text, options, bound);
}

// custom_private: the row set, the statement's text, and the plan's serial
// (transparent_cache.hpp) as two integers; for a plan without its child
// (transparent_deferred.hpp), also the statement and its cursor options.
struct FastCountState {
    CustomScanState css;
    Query *row_set;
    const char *text;
    uint64 serial;
    Query *statement;  // planned on a miss, or nullptr: the child is planned
    int options;
    int eflags;    // for the child, set up on the first miss (or at once, for EXPLAIN)
    bool decided;  // looked up in this scan
    bool hit;
    bool returned;  // the hit's row went out
    refresher::TransparentAnswer answer;
    QueryDesc *shown;  // the statement: started for EXPLAIN, or run on a miss
    bool ran;          // it ran; its row:
    bool has_row;
    bool isnull;
    Datum value;
};

extern const CustomScanMethods scan_methods;
extern const CustomExecMethods exec_methods;

Node *create_state(CustomScan *cscan)
{
    auto *state = reinterpret_cast<FastCountState *>(newNode(sizeof(FastCountState),
                                                              T_CustomScanState));
    state->css.methods = &exec_methods;
    // nullptr in a plan without its child: made when needed.
    state->row_set = static_cast<Query *>(linitial(cscan->custom_private));
    state->text = strVal(lsecond(cscan->custom_private));
    if (list_length(cscan->custom_private) >= 4)
        state->serial = (static_cast<uint64>(intVal(lfourth(cscan->custom_private))) << 31) |
                        static_cast<uint64>(intVal(lthird(cscan->custom_private)));
    if (list_length(cscan->custom_private) >= 6) {
        state->statement = castNode(Query, list_nth(cscan->custom_private, 4));
        state->options = intVal(list_nth(cscan->custom_private, 5));
    }
    return reinterpret_cast<Node *>(state);
}

void init_child(CustomScanState *node, EState *estate, int eflags)
{
    CustomScan *cscan = castNode(CustomScan, node->ss.ps.plan);
    MemoryContext caller = MemoryContextSwitchTo(estate->es_query_cxt);
    outerPlanState(node) = ExecInitNode(outerPlan(cscan), estate, eflags);
    MemoryContextSwitchTo(caller);
}

// The child (the statement's own plan) is set up when a miss needs it: a
// hit never pays for it. EXPLAIN and instrumented runs show it, so they
// get it at once.
void begin_scan(CustomScanState *node, EState *estate, int eflags)
{
    auto *state = reinterpret_cast<FastCountState *>(node);
    state->eflags = eflags;
    if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 && estate->es_instrument == 0)
        return;
    if (state->statement == nullptr)
        init_child(node, estate, eflags);
    else
        state->shown = transparent_deferred::start_statement(
            state->statement, state->text, state->options, plan_as_written, estate, eflags);
}

// Looked up again after any invalidation (creating or dropping the
// extension is one).
bool installed()
{
    static uint64 generation = 0;
    static bool known = false;
    static bool result = false;
    uint64 now = query_memo::invalidations();
    if (!known || generation != now) {
        Oid schema = get_namespace_oid("fast_count", true);
        result = OidIsValid(schema) && OidIsValid(get_relname_relid("entries", schema));
        generation = now;
        known = true;
    }
    return result;
}

refresher::Transparent level_now()
{
    return static_cast<refresher::Transparent>(settings::transparent);
}

// The lookup, at execution: the parameters as bound now, the setting as
// it is now. Never an error of its own: a statement that cannot be
// answered runs as written.
bool look_up(FastCountState *state)
{
    if (settings::transparent == 0 || !settings::enabled || InSecurityRestrictedOperation() ||
        IsParallelWorker() || !installed())
        return false;
    EState *estate = state->css.ss.ps.state;
    ParamListInfo params = estate->es_param_list_info;
    refresher::Transparent level = level_now();
    // A miss at level all counts, which needs the identity's count_query:
    // the kept identity has none.
    if (level != refresher::Transparent::kAll) {
        const QueryIdentity *kept = transparent_cache::find(state->serial, params);
        if (kept != nullptr)
            return refresher::serve_transparent(kept, level, &state->answer);
    }
    transparent_cache::Moment moment = transparent_cache::now();
    if (state->row_set == nullptr && state->statement != nullptr)
        state->row_set = counted_row_set(state->statement);
    if (state->row_set == nullptr)
        return false;
    Query *row_set = static_cast<Query *>(copyObject(state->row_set));
    const QueryIdentity *identity = identity_of_row_set(row_set, params, state->text);
    if (identity == nullptr || identity->uncacheable != nullptr)
        return false;
    transparent_cache::remember(state->serial, identity, moment, params);
    return refresher::serve_transparent(identity, level, &state->answer);
}

TupleTableSlot *exec_scan(CustomScanState *node)
{
    auto *state = reinterpret_cast<FastCountState *>(node);
    if (!state->decided) {
        state->decided = true;
        bool hit = false;
        cpp_entry([&] {
            hit = look_up(state);
            return Datum(0);
        });
        state->hit = hit;
    }
    if (!state->hit && state->statement == nullptr) {
        if (outerPlanState(node) == nullptr)
            init_child(node, node->ss.ps.state, state->eflags);
        return ExecProcNode(outerPlanState(node));
    }
    if (!state->hit && !state->ran) {
        // Kept until the node ends: EXPLAIN (auto_explain's too) shows
        // what ran.
        if (state->shown == nullptr)
            state->shown = transparent_deferred::start_statement(
                state->statement, state->text, state->options, plan_as_written,
                node->ss.ps.state, 0);
        state->ran = true;
        state->has_row =
            transparent_deferred::run_started(state->shown, &state->value, &state->isnull);
    }
    if (state->returned || (!state->hit && !state->has_row))
        return nullptr;
    state->returned = true;
    TupleTableSlot *slot = node->ss.ps.ps_ResultTupleSlot;
    ExecClearTuple(slot);
    slot->tts_values[0] = state->hit ? Int64GetDatum(state->answer.count) : state->value;
    slot->tts_isnull[0] = state->hit ? false : state->isnull;
    return ExecStoreVirtualTuple(slot);
}

void end_scan(CustomScanState *node)
{
    auto *state = reinterpret_cast<FastCountState *>(node);
    if (state->shown != nullptr) {
        QueryDesc *shown = state->shown;
        state->shown = nullptr;
        transparent_deferred::end_statement(shown, state->ran);
    }
    if (outerPlanState(node) != nullptr)
        ExecEndNode(outerPlanState(node));
}

void rescan(CustomScanState *node)
{
    auto *state = reinterpret_cast<FastCountState *>(node);
    state->decided = false;
    state->hit = false;
    state->returned = false;
    // A statement started for EXPLAIN runs once; a rescan runs it anew.
    if (state->shown != nullptr && state->ran) {
        QueryDesc *shown = state->shown;
        state->shown = nullptr;
        transparent_deferred::end_statement(shown, true);
    }
    state->ran = false;
    PlanState *child = outerPlanState(node);
    if (child != nullptr && child->chgParam == nullptr)
        ExecReScan(child);
}

void explain_answer(const FastCountState *state, ExplainState *es)
{
    if (!es->analyze || !state->decided)
        return;
    if (!state->hit) {
        ExplainPropertyText("Cached Count", "miss", es);
        return;
    }
    const char *source = state->answer.source;
    ExplainPropertyText("Cached Count",
                        strcmp(source, "counted") == 0 ? "miss, counted and kept"
                                                       : psprintf("hit (%s)", source),
                        es);
    // The age changes from run to run; it is a timing, shown with them.
    if (es->timing && state->answer.counted_at != 0) {
        long secs;
        int usecs;
        TimestampDifference(state->answer.counted_at, GetCurrentTimestamp(), &secs, &usecs);
        ExplainPropertyFloat("Count Age", "s", secs + usecs / 1e6, 3, es);
    }
}

void explain_scan(CustomScanState *node, List *, ExplainState *es)
{
    auto *state = reinterpret_cast<FastCountState *>(node);
    // A plan made without the statement's, shown where nothing started it
    // (auto_explain without ANALYZE, of a hit).
    if (state->statement != nullptr && state->shown == nullptr)
        ExplainPropertyText("Count Plan", "made on a miss", es);
    explain_answer(state, es);
    // The statement's plan, as the child would show.
    if (state->shown != nullptr)
        transparent_deferred::show_statement(state->shown, es);
}

const CustomScanMethods scan_methods = {"FastCount", create_state};

const CustomExecMethods exec_methods = {
    "FastCount", begin_scan, exec_scan, end_scan, rescan,
    nullptr,     nullptr,    nullptr,   nullptr,  nullptr,
    nullptr,     nullptr,    explain_scan,
};

int max_plan_node_id(const Plan *plan)
{
    if (plan == nullptr)
        return -1;
    return Max(plan->plan_node_id,
               Max(max_plan_node_id(plan->lefttree), max_plan_node_id(plan->righttree)));
}

CustomScan *make_node(Query *row_set, const char *text, uint64 serial)
{
    CustomScan *cscan = makeNode(CustomScan);
    cscan->scan.plan.parallel_aware = false;
    cscan->scan.plan.parallel_safe = false;
    cscan->scan.scanrelid = 0;
    cscan->flags = 0;
    cscan->custom_private =
        list_make4(row_set, makeString(pstrdup(text ? text : "")),
                   makeInteger(static_cast<int>(serial & 0x7fffffff)),
                   makeInteger(static_cast<int>((serial >> 31) & 0x7fffffff)));
    cscan->methods = &scan_methods;
    return cscan;
}

// The node's one column is its scan tuple's (no projection: a projection
// is an expression, which a plan worth compiling would compile at every
// execution), described as the statement's count expression, which EXPLAIN
// VERBOSE shows.
void set_output(CustomScan *cscan, const TargetEntry *count)
{
    const Node *expr = reinterpret_cast<const Node *>(count->expr);
    Var *column =
        makeVar(INDEX_VAR, 1, exprType(expr), exprTypmod(expr), exprCollation(expr), 0);
    cscan->scan.plan.targetlist = list_make1(
        makeTargetEntry(reinterpret_cast<Expr *>(column), 1, count->resname, false));
    cscan->custom_scan_tlist = list_make1(makeTargetEntry(
        static_cast<Expr *>(copyObjectImpl(count->expr)), 1, count->resname, false));
}

// The FastCount node over the statement's plan: one output column, the
// child's count, passed through on a miss. count: the statement's target
// entry as it was before planning.
Plan *wrap_plan(PlannedStmt *stmt, Query *row_set, const char *text, uint64 serial,
                const TargetEntry *count)
{
    Plan *child = stmt->planTree;
    CustomScan *cscan = make_node(row_set, text, serial);
    Plan *plan = &cscan->scan.plan;
    plan->startup_cost = child->startup_cost;
    plan->total_cost = child->total_cost;
    plan->plan_rows = child->plan_rows;
    plan->plan_width = child->plan_width;
    int id = max_plan_node_id(child);
    ListCell *lc;
    foreach (lc, stmt->subplans)
        id = Max(id, max_plan_node_id(static_cast<Plan *>(lfirst(lc))));
    plan->plan_node_id = id + 1;
    set_output(cscan, count);
    plan->lefttree = child;
    return plan;
}

// Whether the row set may be answered at all (what fast_count() refuses
// to cache never gets the node); parameters are not bound yet. *complete:
// the identity, when the statement has no parameters.
bool cacheable_shape(Query *row_set, const char *text, const QueryIdentity **complete)
{
    Query *copy = static_cast<Query *>(copyObject(row_set));
    ParamListInfo none = makeParamList(0);
    const QueryIdentity *identity = identity_of_row_set(copy, none, text);
    // Unbound parameters make no identity here; their values decide later.
    *complete = identity != nullptr && identity->uncacheable == nullptr ? identity : nullptr;
    return identity == nullptr || identity->uncacheable == nullptr;
}

PlannedStmt *plan(Query *parse, const char *text, int options, ParamListInfo bound)
{
    Query *row_set = nullptr;
    uint64 serial = 0;
    bool defer = false;
    if (transparent::may_be_count(parse) && settings::transparent != 0 && settings::enabled &&
        (options & CURSOR_OPT_SCROLL) == 0 && !InSecurityRestrictedOperation() &&
        !IsParallelWorker() && !IsBinaryUpgrade) {
        cpp_entry([&] {
            if (!installed())
                return Datum(0);
            transparent_cache::Moment moment = transparent_cache::now();
            // The same statement accepted before (the simple protocol plans
            // every execution): its identity, without recognising it again.
            const QueryIdentity *complete = transparent_cache::find_planned(text, parse, moment);
            Query *candidate = nullptr;
            if (complete == nullptr) {
                candidate = counted_row_set(parse);
                if (candidate == nullptr || !cacheable_shape(candidate, text, &complete))
                    return Datum(0);
                complete = transparent_cache::remember_planned(text, parse, complete, moment);
            }
            serial = transparent_cache::new_plan_serial();
            // Its first execution, just after, need not derive it again.
            transparent_cache::remember(serial, complete, moment);
            // A statement without parameters has its identity now: its
            // plan can wait for a miss.
            defer = complete != nullptr && explaining == 0 &&
                    transparent_deferred::deferrable(parse);
            // A deferred plan's row set is made when an execution needs it.
            if (!defer && candidate == nullptr)
                candidate = counted_row_set(parse);
            row_set = candidate;
            return Datum(0);
        });
    }
    if (defer) {
        // The planner may scribble on parse: it is the plan's to keep.
        CustomScan *cscan = make_node(row_set, text, serial);
        cscan->custom_private = lappend(cscan->custom_private, parse);
        cscan->custom_private = lappend(cscan->custom_private, makeInteger(options));
        set_output(cscan, linitial_node(TargetEntry, parse->targetList));
        return transparent_deferred::plan_without_child(parse, cscan);
    }
    // The planner rewrites the statement's target list in place.
    const TargetEntry *count =
        row_set != nullptr
            ? static_cast<TargetEntry *>(copyObjectImpl(linitial(parse->targetList)))
            : nullptr;
    PlannedStmt *stmt = plan_as_written(parse, text, options, bound);
    if (count != nullptr && serial != 0 && stmt->planTree != nullptr &&
        list_length(stmt->planTree->targetlist) == 1)
        stmt->planTree = wrap_plan(stmt, row_set, text, serial, count);
    return stmt;
}

// What EXPLAIN plans gets the statement's plan as the child (EXPLAIN shows
// it); the rest is EXPLAIN's own way, or the previous hook's. Nothing here
// throws: no cpp_entry.
void explain_one_query(Query *query, int options, IntoClause *into, ExplainState *es,
                       const char *text, ParamListInfo params, QueryEnvironment *env)
{
    if (previous_explain != nullptr) {
        explaining++;
        PG_TRY();
        {
            previous_explain(query, options, into, es, text, params, env);
        }
        PG_FINALLY();
        {
            explaining--;
        }
        PG_END_TRY();
        return;
    }
    BufferUsage usage_before = pgBufferUsage;
    BufferUsage usage;
    instr_time started;
    instr_time duration;
    INSTR_TIME_SET_CURRENT(started);
    PlannedStmt *stmt = nullptr;
    explaining++;
    PG_TRY();
    {
        stmt = pg_plan_query(query, text, options, params);
    }
    PG_FINALLY();
    {
        explaining--;
    }
    PG_END_TRY();
    INSTR_TIME_SET_CURRENT(duration);
    INSTR_TIME_SUBTRACT(duration, started);
    if (es->buffers) {
        memset(&usage, 0, sizeof(usage));
        BufferUsageAccumDiff(&usage, &pgBufferUsage, &usage_before);
    }
    ExplainOnePlan(stmt, into, es, text, params, env, &duration, es->buffers ? &usage : nullptr);
}

} // namespace

void init()
{
    RegisterCustomScanMethods(&scan_methods);
    previous_planner = planner_hook;
    planner_hook = plan;
    previous_explain = ExplainOneQuery_hook;
    ExplainOneQuery_hook = explain_one_query;
}

} // namespace fast_count::transparent
