// The modes an entry can be kept in besides the core's own (periodic: the
// count is cached and the worker recounts registered entries). A mode
// names itself as it appears in fast_count.entries.mode and brings its
// reader, its worker task and what goes with an entry of the mode; it
// registers from _PG_init (exact mode: exact/exact_mode.cpp). The core
// dispatches on the mode an entry was read with and names no mode.
#pragma once

#include "entry.hpp"
#include "query_identity.hpp"

namespace fast_count::modes {

// Entry::mode of a periodic entry (and of a mode no library registered).
constexpr uint8 kPeriodic = 0;

struct Mode {
    const char *name;  // the value of fast_count.entries.mode
    // fast_count() of an entry of this mode: the count the caller sees.
    int64 (*read_count)(const QueryIdentity *identity, const Entry &entry);
    // The same, only when it needs no count of the query (transparent mode
    // then runs the statement's own plan instead); false otherwise.
    bool (*read_without_counting)(const QueryIdentity *identity, const Entry &entry,
                                  int64 *count);
    // One pass of the worker over this mode's entries; returns when the
    // worker should look again (no later than next_wake).
    TimestampTz (*run_worker_tasks)(TimestampTz next_wake);
    // Before an entry of this mode is removed, under its key lock.
    void (*forget)(const pg_uuid_t &key);
    // Optional: which of its entries could answer row_set besides the
    // entry of identity's own key (identity->served_by).
    void (*describe)(QueryIdentity *identity, Query *row_set);
};

// From _PG_init; every backend registers the same modes in the same order,
// so that Entry::mode means the same in shared memory.
void add(const Mode &mode);

// The Entry::mode of a mode's name.
uint8 id_of(const char *name);

// Dispatch to the mode of entry (which must not be kPeriodic).
int64 read_count(const QueryIdentity *identity, const Entry &entry);
bool read_without_counting(const QueryIdentity *identity, const Entry &entry, int64 *count);
const char *name_of(const Entry &entry);
void forget(const Entry &entry);
void describe(QueryIdentity *identity, Query *row_set);

// Every mode's worker task, in registration order.
TimestampTz run_worker_tasks(TimestampTz next_wake);

} // namespace fast_count::modes
