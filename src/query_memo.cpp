#include "query_memo.hpp"

#include "pg/pg_allocator.hpp"
#include "session_settings.hpp"
#include "settings.hpp"

extern "C" {
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

#include <boost/container/map.hpp>

namespace fast_count::query_memo {

namespace {

// Everything besides the text that decides what a text reads as and which
// key it has: the role ($user in search_path, row security, the key of a
// query that runs user code) and every setting that can change a result.
struct ReadingState {
    Oid user;
    uint64 settings;  // session_settings::fingerprint()
};

struct MemoEntry {
    MemoryContext context;  // holds the entry and everything it points to
    uint64 hash;
    char *text;
    ArrayType *params;  // detoasted copy, or nullptr
    ReadingState state;
    QueryIdentity *identity;
    MemoEntry *next_buried;  // in the graveyard
};

using Map = boost::container::map<uint64, MemoEntry *, std::less<uint64>,
                                  MemoryContextAllocator<std::pair<const uint64, MemoEntry *>>>;

MemoryContext memo_context = nullptr;
Map *memo = nullptr;
bool callbacks_registered = false;
// Bumped by every invalidation: an identity derived while it moved may
// predate the change, so it is used once and not remembered.
uint64 generation = 0;
// Forgotten entries, freed once no call is in progress (a callback may
// forget an entry whose identity a call is still using). A list threaded
// through the entries themselves: invalidation callbacks run at COMMIT,
// where an allocation failure would be a PANIC, so burying allocates
// nothing.
MemoEntry *graveyard = nullptr;
int calls_in_progress = 0;

void free_graveyard()
{
    while (graveyard != nullptr) {
        MemoEntry *entry = graveyard;
        graveyard = entry->next_buried;
        MemoryContextDelete(entry->context);
    }
}

ReadingState current_state()
{
    ReadingState state;
    memset(&state, 0, sizeof(state));
    state.user = GetUserId();
    state.settings = session_settings::fingerprint();
    return state;
}

uint64 hash_of(const char *text, ArrayType *params, const ReadingState &state)
{
    uint64 hash = hash_bytes_extended(reinterpret_cast<const unsigned char *>(text),
                                      static_cast<int>(strlen(text)), 0);
    if (params != nullptr)
        hash ^= hash_bytes_extended(reinterpret_cast<const unsigned char *>(params),
                                    static_cast<int>(VARSIZE(params)), 1);
    hash ^= hash_bytes_extended(reinterpret_cast<const unsigned char *>(&state), sizeof(state), 2);
    return hash;
}

void bury(MemoEntry *entry)
{
    entry->next_buried = graveyard;
    graveyard = entry;
}

void erase(Map::iterator it)
{
    MemoEntry *entry = it->second;
    memo->erase(it);
    bury(entry);
}

void forget_all()
{
    generation++;
    if (memo == nullptr)
        return;
    for (auto &item : *memo)
        bury(item.second);
    memo->clear();
}

template <typename Predicate>
void forget_if(Predicate &&matches)
{
    generation++;
    if (memo == nullptr)
        return;
    for (auto it = memo->begin(); it != memo->end();) {
        if (matches(it->second->identity))
            erase(it++);
        else
            ++it;
    }
}

} // namespace

void relation_changed(Oid relid)
{
    if (relid == InvalidOid) {
        forget_all();
        return;
    }
    forget_if([relid](const QueryIdentity *identity) {
        return list_member_oid(identity->relids, relid) || list_member_oid(identity->tables, relid);
    });
}

namespace {

// A relation was created, dropped or renamed under some (name, schema):
// texts that could resolve a name there are analyzed again.
void on_relation_name_changed(Datum, int, uint32 hash)
{
    if (hash == 0) {
        forget_all();
        return;
    }
    forget_if([hash](const QueryIdentity *identity) {
        return list_member_int(identity->name_hashes, static_cast<int>(hash));
    });
}

// Functions, operators, types, domain constraints, casts, schemas,
// collations or text search configurations changed: rare enough to start
// over (keys name these objects by OID and row version).
void on_catalog_changed(Datum, int, uint32)
{
    forget_all();
}

void setup()
{
    if (!callbacks_registered) {
        CacheRegisterSyscacheCallback(RELNAMENSP, on_relation_name_changed, 0);
        CacheRegisterSyscacheCallback(PROCOID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(OPEROID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(TYPEOID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(CASTSOURCETARGET, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(NAMESPACEOID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(CONSTROID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(COLLOID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(TSCONFIGOID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(TSCONFIGMAP, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(TSDICTOID, on_catalog_changed, 0);
        callbacks_registered = true;
    }
    if (memo_context == nullptr) {
        memo_context =
            AllocSetContextCreate(TopMemoryContext, "fast_count query memo", ALLOCSET_DEFAULT_SIZES);
        void *memory = MemoryContextAlloc(memo_context, sizeof(Map));
        memo = new (memory) Map(MemoryContextAllocator<std::pair<const uint64, MemoEntry *>>(
            memo_context));
    }
}

bool same_params(ArrayType *a, ArrayType *b)
{
    if (a == nullptr || b == nullptr)
        return a == b;
    return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

} // namespace

Lookup identity_for(const char *text, ArrayType *params)
{
    if (settings::memo_size <= 0)
        return {derive_identity(text, params), true};
    setup();

    if (params != nullptr)
        params = reinterpret_cast<ArrayType *>(PG_DETOAST_DATUM(PointerGetDatum(params)));
    ReadingState state = current_state();
    uint64 hash = hash_of(text, params, state);

    auto found = memo->find(hash);
    if (found != memo->end()) {
        MemoEntry *entry = found->second;
        if (strcmp(entry->text, text) == 0 && same_params(entry->params, params) &&
            memcmp(&entry->state, &state, sizeof(state)) == 0)
            return {entry->identity, false};
        erase(found);
    }

    uint64 generation_before = generation;
    QueryIdentity *identity = derive_identity(text, params);
    if (generation != generation_before)
        return {identity, true};

    if (memo->size() >= static_cast<size_t>(settings::memo_size))
        forget_all();
    MemoryContext entry_context =
        AllocSetContextCreate(memo_context, "fast_count memo entry", ALLOCSET_SMALL_SIZES);
    MemoryContext caller_context = MemoryContextSwitchTo(entry_context);
    auto *entry = static_cast<MemoEntry *>(palloc(sizeof(MemoEntry)));
    entry->context = entry_context;
    entry->next_buried = nullptr;
    entry->hash = hash;
    entry->text = pstrdup(text);
    entry->params = params != nullptr ? reinterpret_cast<ArrayType *>(PG_DETOAST_DATUM_COPY(
                                            PointerGetDatum(params)))
                                      : nullptr;
    entry->state = state;
    entry->identity = copy_identity(identity);
    // Counting reads the text again; the memo keeps what hits need.
    entry->identity->count_query = nullptr;
    MemoryContextSwitchTo(caller_context);
    memo->emplace(hash, entry);
    return {identity, true};
}

void begin_call()
{
    if (calls_in_progress == 0)
        free_graveyard();
    calls_in_progress++;
}

void end_call()
{
    if (calls_in_progress > 0)
        calls_in_progress--;
}

void at_transaction_end()
{
    calls_in_progress = 0;
    free_graveyard();
}

size_t size()
{
    return memo != nullptr ? memo->size() : 0;
}

uint64 invalidations()
{
    setup();
    return generation;
}

} // namespace fast_count::query_memo
