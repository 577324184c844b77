#include "count_executor.hpp"

#include "pg/restricted_scope.hpp"

extern "C" {
#include "access/xact.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "portability/instr_time.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

namespace fast_count {

namespace {

// Keeps the single int8 that count(*) returns.
struct CountReceiver {
    DestReceiver pub;
    int64 count;
    bool seen;
};

bool receive_count(TupleTableSlot *slot, DestReceiver *self)
{
    auto *receiver = reinterpret_cast<CountReceiver *>(self);
    bool isnull;
    Datum value = slot_getattr(slot, 1, &isnull);
    if (!isnull) {
        receiver->count = DatumGetInt64(value);
        receiver->seen = true;
    }
    return true;
}

void receiver_startup(DestReceiver *, int, TupleDesc) {}
void receiver_shutdown(DestReceiver *) {}
void receiver_destroy(DestReceiver *) {}

void run_active(PlannedStmt *plan, const char *text, DestReceiver *receiver)
{
    QueryDesc *desc = CreateQueryDesc(plan, text, GetActiveSnapshot(), InvalidSnapshot, receiver,
                                      nullptr, nullptr, 0);
    ExecutorStart(desc, 0);
    ExecutorRun(desc, ForwardScanDirection, 0, true);
    ExecutorFinish(desc);
    ExecutorEnd(desc);
    FreeQueryDesc(desc);
}

// Plans the count, then runs it under snapshot, or, when there is none,
// under a transaction snapshot taken once the plan is made (like SPI in a
// volatile function: the caller's earlier work is seen, and in READ
// COMMITTED the count is as of now). The time is the execution's alone.
CountRun execute_count(const QueryIdentity *identity, Snapshot snapshot)
{
    MemoryContext count_context =
        AllocSetContextCreate(CurrentMemoryContext, "fast_count count", ALLOCSET_DEFAULT_SIZES);
    MemoryContext caller_context = MemoryContextSwitchTo(count_context);

    // The planner scribbles on its input; the identity may be reused.
    Query *query = static_cast<Query *>(copyObject(identity->count_query));
    PlannedStmt *plan =
        pg_plan_query(query, identity->query_text, CURSOR_OPT_PARALLEL_OK, nullptr);

    CountReceiver receiver{};
    receiver.pub.receiveSlot = receive_count;
    receiver.pub.rStartup = receiver_startup;
    receiver.pub.rShutdown = receiver_shutdown;
    receiver.pub.rDestroy = receiver_destroy;
    receiver.pub.mydest = DestNone;

    if (snapshot == InvalidSnapshot) {
        CommandCounterIncrement();
        snapshot = GetTransactionSnapshot();
    }
    PushActiveSnapshot(snapshot);

    CountRun run{};
    run.started_at = GetCurrentTimestamp();
    instr_time start;
    INSTR_TIME_SET_CURRENT(start);

    run_active(plan, identity->query_text, &receiver.pub);
    PopActiveSnapshot();

    instr_time elapsed;
    INSTR_TIME_SET_CURRENT(elapsed);
    INSTR_TIME_SUBTRACT(elapsed, start);
    run.milliseconds = INSTR_TIME_GET_MILLISEC(elapsed);

    if (!receiver.seen)
        elog(ERROR, "count(*) returned no row");
    run.count = receiver.count;

    MemoryContextSwitchTo(caller_context);
    MemoryContextDelete(count_context);
    return run;
}

} // namespace

CountRun run_count(const QueryIdentity *identity, Shared shared)
{
    if (shared == Shared::kNo)
        return execute_count(identity, InvalidSnapshot);
    CountRun run{};
    restricted::run_as(GetUserId(), nullptr,
                       [&](MemoryContext) { run = execute_count(identity, InvalidSnapshot); });
    return run;
}

void run_plan(PlannedStmt *plan, const char *text, Snapshot snapshot, DestReceiver *receiver)
{
    PushActiveSnapshot(snapshot);
    run_active(plan, text, receiver);
    PopActiveSnapshot();
}

int64 count_under(const QueryIdentity *identity, Snapshot snapshot)
{
    Assert(snapshot != InvalidSnapshot);
    return execute_count(identity, snapshot).count;
}

namespace {

CountRun plan_estimate(const QueryIdentity *identity)
{
    MemoryContext plan_context =
        AllocSetContextCreate(CurrentMemoryContext, "fast_count estimate", ALLOCSET_DEFAULT_SIZES);
    MemoryContext caller_context = MemoryContextSwitchTo(plan_context);

    CountRun run{};
    run.started_at = GetCurrentTimestamp();
    instr_time start;
    INSTR_TIME_SET_CURRENT(start);

    // Plan the query itself (not the count around it) and read its row estimate.
    Query *query = static_cast<Query *>(
        copyObject(linitial_node(RangeTblEntry, identity->count_query->rtable)->subquery));
    PlannedStmt *plan = pg_plan_query(query, identity->query_text, 0, nullptr);
    double rows = plan->planTree->plan_rows;

    instr_time elapsed;
    INSTR_TIME_SET_CURRENT(elapsed);
    INSTR_TIME_SUBTRACT(elapsed, start);
    run.milliseconds = INSTR_TIME_GET_MILLISEC(elapsed);
    run.count = rows < 0 ? 0 : static_cast<int64>(rows + 0.5);
    run.is_estimate = true;

    MemoryContextSwitchTo(caller_context);
    MemoryContextDelete(plan_context);
    return run;
}

} // namespace

CountRun estimate_count(const QueryIdentity *identity)
{
    CountRun run{};
    restricted::run_as(GetUserId(), nullptr, [&](MemoryContext) { run = plan_estimate(identity); });
    return run;
}

} // namespace fast_count
