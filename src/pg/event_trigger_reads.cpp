#include "pg/event_trigger_reads.hpp"

extern "C" {
#include "commands/event_trigger.h"
#include "executor/spi.h"
}

namespace fast_count::event_trigger_reads {

namespace {

// Hands each row to visit in the caller's memory context, so that what it
// keeps outlives SPI_finish().
template <typename Visit>
void for_each_row(const char *query, const char *what, Visit &&visit)
{
    MemoryContext caller = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    if (SPI_execute(query, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "could not read %s", what);
    for (uint64 i = 0; i < SPI_processed; i++) {
        MemoryContext spi = MemoryContextSwitchTo(caller);
        visit(SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
        MemoryContextSwitchTo(spi);
    }
    SPI_finish();
}

} // namespace

void require_event_trigger(FunctionCallInfo fcinfo)
{
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("function can only be called as an event trigger")));
}

List *oids(const char *query, const char *what)
{
    List *result = NIL;
    for_each_row(query, what, [&](HeapTuple row, TupleDesc desc) {
        bool isnull;
        Datum value = SPI_getbinval(row, desc, 1, &isnull);
        if (!isnull)
            result = lappend_oid(result, DatumGetObjectId(value));
    });
    return result;
}

List *texts(const char *query, const char *what)
{
    List *result = NIL;
    for_each_row(query, what, [&](HeapTuple row, TupleDesc desc) {
        char *value = SPI_getvalue(row, desc, 1);
        if (value != nullptr)
            result = lappend(result, value);
    });
    return result;
}

} // namespace fast_count::event_trigger_reads
