#include "entry_visibility.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/syscache.h"
}

namespace fast_count::entry_visibility {

namespace {

// False when the relation is gone or under row-level security; *owner gets
// its owner.
bool plain_relation(Oid relid, Oid *owner)
{
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return false;
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    bool plain = !form->relrowsecurity;
    *owner = form->relowner;
    ReleaseSysCache(tuple);
    return plain;
}

} // namespace

bool sees_all()
{
    return superuser() || has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
}

bool may_see(List *relids, List *tables)
{
    if (sees_all())
        return true;
    Oid user = GetUserId();
    ListCell *lc;
    foreach (lc, relids) {
        bool missing = false;
        Oid owner;
        if (!plain_relation(lfirst_oid(lc), &owner) ||
            pg_class_aclcheck_ext(lfirst_oid(lc), user, ACL_SELECT, &missing) != ACLCHECK_OK ||
            missing)
            return false;
    }
    foreach (lc, tables) {
        Oid owner;
        if (!plain_relation(lfirst_oid(lc), &owner))
            return false;
    }
    return true;
}

bool may_manage(Oid registrant, List *relids)
{
    Oid user = GetUserId();
    if (superuser() || has_privs_of_role(user, registrant))
        return true;
    ListCell *lc;
    foreach (lc, relids) {
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(lfirst_oid(lc)));
        if (!HeapTupleIsValid(tuple))
            continue;
        Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
        ReleaseSysCache(tuple);
        if (has_privs_of_role(user, owner))
            return true;
    }
    return false;
}

} // namespace fast_count::entry_visibility
