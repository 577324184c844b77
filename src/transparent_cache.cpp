#include "transparent_cache.hpp"

#include "query_memo.hpp"
#include "session_settings.hpp"

extern "C" {
#include "common/hashfn.h"
#include "miscadmin.h"
#include "nodes/nodes.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

namespace fast_count::transparent_cache {

namespace {

// Direct-mapped by serial: a prepared statement keeps its plan, and the
// few a session runs over and over stay.
constexpr int kEntries = 64;

struct KeptParam {
    Oid type;
    bool isnull;
    bool byval;
    int16 len;
    Datum value;
};

struct Kept {
    uint64 serial;  // 0: empty
    Moment moment;
    MemoryContext context;
    QueryIdentity *identity;
    int nparams;
    KeptParam *params;
    // Or the identity of a plan-time slot (no copy), while that slot keeps
    // the same one.
    int borrowed;  // -1: none
    uint64 borrowed_version;
};

int param_count(ParamListInfo params)
{
    return params == nullptr ? 0 : params->numParams;
}

// Values fetched through a hook are not in the list to compare.
bool comparable(ParamListInfo params)
{
    return params == nullptr || params->numParams == 0 ||
           (params->paramFetch == nullptr && params->paramCompile == nullptr);
}

bool same_params(const Kept &slot, ParamListInfo params)
{
    if (slot.nparams != param_count(params))
        return false;
    for (int i = 0; i < slot.nparams; i++) {
        const KeptParam &kept = slot.params[i];
        const ParamExternData &now = params->params[i];
        if (kept.type != now.ptype || kept.isnull != now.isnull)
            return false;
        if (!kept.isnull && !datumIsEqual(kept.value, now.value, kept.byval, kept.len))
            return false;
    }
    return true;
}

Kept kept[kEntries];
uint64 last_serial = 0;

bool same_moment(const Moment &a, const Moment &b)
{
    return a.user == b.user && a.settings == b.settings && a.generation == b.generation;
}

// Plan time: by the text's hash.
constexpr int kPlanned = 16;

struct Planned {
    bool used;
    uint32 hash;
    uint64 version;  // moves whenever the slot is reused
    Moment moment;
    MemoryContext context;
    char *text;
    Query *statement;
    QueryIdentity *identity;
};

Planned planned[kPlanned];
uint64 planned_versions = 0;

int planned_slot_of(const QueryIdentity *identity)
{
    for (int i = 0; i < kPlanned; i++)
        if (planned[i].used && planned[i].identity == identity)
            return i;
    return -1;
}

uint32 text_hash(const char *text)
{
    return hash_bytes(reinterpret_cast<const unsigned char *>(text), static_cast<int>(strlen(text)));
}

} // namespace

uint64 new_plan_serial()
{
    return ++last_serial;
}

Moment now()
{
    return {GetUserId(), session_settings::fingerprint(), query_memo::invalidations()};
}

void remember(uint64 serial, const QueryIdentity *identity, const Moment &moment,
              ParamListInfo params)
{
    if (serial == 0 || identity == nullptr || !comparable(params))
        return;
    for (int i = 0; i < param_count(params); i++)
        if (!params->params[i].isnull && !OidIsValid(params->params[i].ptype))
            return;  // a value of no known type: nothing to compare it by
    Kept &slot = kept[serial % kEntries];
    slot.serial = 0;  // until it is complete
    // An identity just found or kept at plan time, without parameters: the
    // plan-time slot has it (the simple protocol plans every execution).
    int borrowed = param_count(params) == 0 ? planned_slot_of(identity) : -1;
    if (borrowed >= 0) {
        if (slot.context != nullptr)
            MemoryContextReset(slot.context);
        slot.identity = nullptr;
        slot.nparams = 0;
        slot.params = nullptr;
        slot.borrowed = borrowed;
        slot.borrowed_version = planned[borrowed].version;
        slot.moment = moment;
        slot.serial = serial;
        return;
    }
    slot.borrowed = -1;
    if (slot.context == nullptr)
        slot.context = AllocSetContextCreate(TopMemoryContext, "fast_count transparent plan",
                                             ALLOCSET_SMALL_SIZES);
    else
        MemoryContextReset(slot.context);
    slot.serial = 0;  // until the copy is complete (it may fail)
    MemoryContext caller = MemoryContextSwitchTo(slot.context);
    slot.identity = copy_identity(identity);
    slot.nparams = param_count(params);
    slot.params = nullptr;
    if (slot.nparams > 0)
        slot.params = static_cast<KeptParam *>(palloc0(sizeof(KeptParam) * slot.nparams));
    for (int i = 0; i < slot.nparams; i++) {
        const ParamExternData &bound = params->params[i];
        KeptParam &kept = slot.params[i];
        kept.type = bound.ptype;
        kept.isnull = bound.isnull;
        if (!kept.isnull) {
            get_typlenbyval(kept.type, &kept.len, &kept.byval);
            kept.value = datumCopy(bound.value, kept.byval, kept.len);
        }
    }
    MemoryContextSwitchTo(caller);
    slot.moment = moment;
    slot.serial = serial;
}

const QueryIdentity *find(uint64 serial, ParamListInfo params)
{
    const Kept &slot = kept[serial % kEntries];
    if (serial == 0 || slot.serial != serial || !comparable(params) || !same_params(slot, params))
        return nullptr;
    // An invalidation, another role or other settings: derive again.
    if (!same_moment(slot.moment, now()))
        return nullptr;
    if (slot.borrowed >= 0) {
        const Planned &source = planned[slot.borrowed];
        return source.used && source.version == slot.borrowed_version ? source.identity : nullptr;
    }
    return slot.identity;
}

const QueryIdentity *find_planned(const char *text, const Query *statement, const Moment &moment)
{
    if (text == nullptr)
        return nullptr;
    uint32 hash = text_hash(text);
    const Planned &slot = planned[hash % kPlanned];
    // equal() ignores token locations, which no key depends on.
    if (!slot.used || slot.hash != hash || !same_moment(slot.moment, moment) ||
        strcmp(slot.text, text) != 0 || !equal(slot.statement, statement))
        return nullptr;
    return slot.identity;
}

const QueryIdentity *remember_planned(const char *text, const Query *statement,
                                      const QueryIdentity *identity, const Moment &moment)
{
    if (text == nullptr || identity == nullptr)
        return identity;
    uint32 hash = text_hash(text);
    Planned &slot = planned[hash % kPlanned];
    if (slot.context == nullptr)
        slot.context = AllocSetContextCreate(TopMemoryContext, "fast_count transparent text",
                                             ALLOCSET_SMALL_SIZES);
    else
        MemoryContextReset(slot.context);
    slot.used = false;  // until the copies are complete (they may fail)
    slot.version = ++planned_versions;
    MemoryContext caller = MemoryContextSwitchTo(slot.context);
    slot.text = pstrdup(text);
    slot.statement = static_cast<Query *>(copyObjectImpl(statement));
    slot.identity = copy_identity(identity);
    MemoryContextSwitchTo(caller);
    slot.hash = hash;
    slot.moment = moment;
    slot.used = true;
    return slot.identity;
}

} // namespace fast_count::transparent_cache
