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

void define_all();

} // namespace fast_count::settings
