#include "pg/restricted_scope.hpp"

#include "query_identity.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
}

namespace fast_count::restricted {

namespace {

constexpr int kRestrictedFlags = SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION;

// The caller's user and security context while work runs as another role.
struct SavedUser {
    Oid user = InvalidOid;
    int context = 0;
    bool switched = false;
};

void become(Oid role, SavedUser *saved)
{
    GetUserIdAndSecContext(&saved->user, &saved->context);
    SetUserIdAndSecContext(role, saved->context | kRestrictedFlags);
    saved->switched = true;
}

void restore(SavedUser *saved)
{
    if (saved->switched)
        SetUserIdAndSecContext(saved->user, saved->context);
    saved->switched = false;
}

} // namespace

void check_owner_exists(Oid role)
{
    if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("the role that registered this query (OID %u) no longer exists",
                               role)));
}

namespace detail {

void in_subtransaction(bool commit, Body body, void *arg)
{
    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    pg_call([] { BeginInternalSubTransaction(nullptr); });
    // Freed with the subtransaction, whichever way it ends.
    MemoryContext scratch =
        AllocSetContextCreate(CurTransactionContext, "fast_count subtransaction", ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(caller_context);  // errors are copied here

    auto end = [&](bool keep_changes) {
        MemoryContextSwitchTo(caller_context);  // an error of the rollback is copied here
        pg_call([keep_changes] {
            if (keep_changes)
                ReleaseCurrentSubTransaction();
            else
                RollbackAndReleaseCurrentSubTransaction();
        });
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
    };
    try {
        pg_call([&] {
            MemoryContextSwitchTo(scratch);
            body(arg, caller_context);
            MemoryContextSwitchTo(caller_context);
        });
    } catch (...) {
        end(false);
        throw;
    }
    end(commit);
}

void run_as(Oid role, ArrayType *settings, Body body, void *arg)
{
    pg_call([role] { check_owner_exists(role); });
    SavedUser saved;
    int guc_level = -1;
    struct Work {
        Oid role;
        ArrayType *settings;
        Body body;
        void *arg;
        SavedUser *saved;
        int *guc_level;
    } work{role, settings, body, arg, &saved, &guc_level};
    // The user and settings go back before the rollback, also after an
    // error (the rollback would restore them too, but nothing of the
    // role's may run as the caller in between).
    MemoryContext caller_context = CurrentMemoryContext;
    auto leave = [&] {
        MemoryContextSwitchTo(caller_context);
        pg_call([&] {
            if (guc_level >= 0)
                AtEOXact_GUC(false, guc_level);
            guc_level = -1;
            restore(&saved);
        });
    };
    restricted::in_subtransaction(false, [&work, &leave](MemoryContext keep) {
        // pg_call copies an error into the context current when it is
        // entered: keep, not the scratch context the rollback frees.
        MemoryContext scratch = MemoryContextSwitchTo(keep);
        try {
            pg_call([&] {
                MemoryContextSwitchTo(scratch);
                fault::point(fault::kRestrictedScope);
                become(work.role, work.saved);
                *work.guc_level = NewGUCNestLevel();
                if (work.settings != nullptr)
                    apply_reading_settings(work.settings);
                work.body(work.arg, keep);
                MemoryContextSwitchTo(keep);
            });
        } catch (...) {
            leave();
            throw;
        }
        leave();
    });
}

void persist_as(Oid role, Body body, void *arg)
{
    pg_call([role] { check_owner_exists(role); });
    SavedUser saved;
    MemoryContext caller_context = CurrentMemoryContext;
    try {
        pg_call([&] {
            become(role, &saved);
            body(arg, caller_context);
        });
    } catch (...) {
        restore(&saved);
        throw;
    }
    restore(&saved);
}

} // namespace detail

} // namespace fast_count::restricted
