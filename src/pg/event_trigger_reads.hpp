// What an event trigger is called with and learns from pg_event_trigger_ddl_commands() and
// pg_event_trigger_dropped_objects(): one-column queries run through SPI.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "nodes/pg_list.h"
}

namespace fast_count::event_trigger_reads {

// Raises 39P01 unless the function was called as an event trigger.
void require_event_trigger(FunctionCallInfo fcinfo);

// The non-null oids of the query's first column, in the caller's memory
// context; `what` names them in the error if the query fails.
List *oids(const char *query, const char *what);

// The non-null values of the query's first column as text (char *), in the
// caller's memory context.
List *texts(const char *query, const char *what);

} // namespace fast_count::event_trigger_reads
