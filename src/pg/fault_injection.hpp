// Fault injection for the C++/PostgreSQL crossings: a hidden, superuser-only
// setting (fast_count.inject_fault, a comma-separated list) names the places
// whose every passage throws std::bad_alloc, as a Boost container over
// palloc would when memory runs out. Unset, each place costs one
// predictable branch on a global.
#pragma once

#include <new>

namespace fast_count::fault {

// Each place that can be made to fail; names in fault_injection.cpp.
enum Site : int {
    kNone = 0,
    kAllocator,       // MemoryContextAllocator::allocate (our containers)
    kPgCall,          // inside pg_call's PG_TRY, before the callable
    kWorkerRefresh,   // the worker's refresh of one registered entry
    kWorkerRecord,    // recording that refresh's failure on the entry
    kExactTask,       // an exact-mode task of the worker
    kExactRecord,     // recording that task's failure on the entry
    kSettle,          // _exact_settle's subtransaction
    kFollowText,      // an exact entry following its text after DDL
    kRestrictedScope, // the work run as an owner in the restricted scope
    kCallback,        // transaction callbacks at COMMIT/ABORT
    kFoldGroup,       // a grouped fold, between two groups (after the first)
};

extern unsigned armed;  // bit (1 << Site) for each place that fails; 0 when unset

[[noreturn]] void fail();

inline void point(Site site)
{
    if (__builtin_expect(armed != 0, 0) && (armed & (1u << site)) != 0)
        fail();
}

// From _PG_init.
void define_setting();

} // namespace fast_count::fault
