// Who may see an entry of fast_count.entries, and who may change it. Every
// path that reveals something about an entry (the entries view, the
// activity counters, unregistering by text) asks here first, so that a role
// learns nothing about counts over relations it cannot read, not even that
// they exist.
#pragma once

extern "C" {
#include "postgres.h"

#include "nodes/pg_list.h"
}

namespace fast_count::entry_visibility {

// Superusers and members of pg_read_all_stats see every entry.
bool sees_all();

// Whether the current user may see an entry over relids (the relations its
// query names) and tables (those read once views are expanded): sees_all(),
// or SELECT on each of relids, none of relids or tables dropped, and none
// under row-level security (such counts were taken before policies applied
// to them, and the policies may hide rows from this role).
bool may_see(List *relids, List *tables);

// Whether the current user may change, take over, refresh or remove a
// registration made by registrant over relids: a superuser, a member of
// registrant, or the owner (a member of the owning role) of one of relids.
bool may_manage(Oid registrant, List *relids);

} // namespace fast_count::entry_visibility
