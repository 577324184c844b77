// The fast_count.* configuration parameters (GUCs).
#pragma once

extern "C" {
#include "postgres.h"
}

namespace fast_count::settings {

extern bool enabled;           // fast_count.enabled
extern int cache_larger_than;  // fast_count.cache_larger_than, rows
extern int cache_slower_than;  // fast_count.cache_slower_than, ms; -1 = never by time
extern int expire_after;       // fast_count.expire_after, s
extern int refresh_every;      // fast_count.refresh_every, s (default for registrations)
extern int max_stale;          // fast_count.max_stale, s
extern int naptime;            // fast_count.naptime, s
extern int log_level;          // fast_count.log_level, an elog level
extern char *databases;        // fast_count.databases, comma-separated names; empty = all
extern int max_entries;        // fast_count.max_entries, shared index capacity
extern int force_recount_after;  // fast_count.force_recount_after, s; 0 = always, -1 = never
extern int memo_size;          // fast_count.memo_size, queries remembered per backend
extern bool estimate_on_miss;  // fast_count.estimate_on_miss
extern bool exact_shared_reads;  // fast_count.exact_shared_reads
extern int max_refresh_every;  // fast_count.max_refresh_every, s (server-wide)
extern int transparent;        // fast_count.transparent: 0 off, 1 exact, 2 registered, 3 all
extern int max_age;            // fast_count.max_age, s; 0 = no bound

// preloading: called from shared_preload_libraries (may define PGC_POSTMASTER ones).
void define_all(bool preloading);

} // namespace fast_count::settings
