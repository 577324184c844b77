#include "query_memo.hpp"

#include "pg_allocator.hpp"
#include "settings.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "parser/parse_expr.h"
#include "parser/parser.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/syscache.h"
#include "utils/xml.h"
}

#include <boost/container/map.hpp>

namespace fast_count::query_memo {

namespace {

// Everything besides the text that decides what a text reads as: the role
// ($user in search_path, row security), the path, and the settings that
// change how literals are read or what stable functions return.
struct ReadingState {
    Oid user;
    int date_style;
    int date_order;
    int interval_style;
    const pg_tz *time_zone;
    bool standard_conforming_strings;
    bool transform_null_equals;
    bool array_nulls;
    int xml_option;
};

struct MemoEntry {
    MemoryContext context;  // holds the entry and everything it points to
    uint64 hash;
    char *text;
    ArrayType *params;  // detoasted copy, or nullptr
    ReadingState state;
    char *search_path;
    char *lc_monetary;
    char *lc_numeric;
    char *lc_time;
    QueryIdentity *identity;
};

using Map = boost::container::map<uint64, MemoEntry *, std::less<uint64>,
                                  MemoryContextAllocator<std::pair<const uint64, MemoEntry *>>>;

MemoryContext memo_context = nullptr;
Map *memo = nullptr;
bool callbacks_registered = false;
// Bumped by every invalidation: an identity derived while it moved may
// predate the change, so it is used once and not remembered.
uint64 generation = 0;
// Contexts of forgotten entries, freed once no call is in progress (a
// callback may forget an entry whose identity a call is still using).
List *graveyard = NIL;
int calls_in_progress = 0;

void free_graveyard()
{
    if (graveyard == NIL)
        return;
    ListCell *lc;
    foreach (lc, graveyard)
        MemoryContextDelete(static_cast<MemoryContext>(lfirst(lc)));
    list_free(graveyard);
    graveyard = NIL;
}

ReadingState current_state()
{
    ReadingState state;
    memset(&state, 0, sizeof(state));
    state.user = GetUserId();
    state.date_style = DateStyle;
    state.date_order = DateOrder;
    state.interval_style = IntervalStyle;
    state.time_zone = session_timezone;
    state.standard_conforming_strings = standard_conforming_strings;
    state.transform_null_equals = Transform_null_equals;
    state.array_nulls = Array_nulls;
    state.xml_option = xmloption;
    return state;
}

bool same_locales(const MemoEntry *entry)
{
    return strcmp(entry->lc_monetary, locale_monetary) == 0 &&
           strcmp(entry->lc_numeric, locale_numeric) == 0 && strcmp(entry->lc_time, locale_time) == 0;
}

uint64 hash_of(const char *text, ArrayType *params, const ReadingState &state,
               const char *search_path)
{
    uint64 hash = hash_bytes_extended(reinterpret_cast<const unsigned char *>(text),
                                      static_cast<int>(strlen(text)), 0);
    if (params != nullptr)
        hash ^= hash_bytes_extended(reinterpret_cast<const unsigned char *>(params),
                                    static_cast<int>(VARSIZE(params)), 1);
    hash ^= hash_bytes_extended(reinterpret_cast<const unsigned char *>(&state), sizeof(state), 2);
    hash ^= hash_bytes_extended(reinterpret_cast<const unsigned char *>(search_path),
                                static_cast<int>(strlen(search_path)), 3);
    return hash;
}

void bury(MemoEntry *entry)
{
    MemoryContext previous = MemoryContextSwitchTo(TopMemoryContext);
    graveyard = lappend(graveyard, entry->context);
    MemoryContextSwitchTo(previous);
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

// A relation changed (ALTER, DROP, GRANT, VACUUM...): texts that read it are
// analyzed again.
void on_relation_changed(Datum, Oid relid)
{
    if (relid == InvalidOid) {
        forget_all();
        return;
    }
    forget_if([relid](const QueryIdentity *identity) {
        return list_member_oid(identity->relids, relid) || list_member_oid(identity->tables, relid);
    });
}

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

// Functions, operators, types, casts or schemas changed: rare enough to
// start over.
void on_catalog_changed(Datum, int, uint32)
{
    forget_all();
}

void setup()
{
    if (!callbacks_registered) {
        CacheRegisterRelcacheCallback(on_relation_changed, 0);
        CacheRegisterSyscacheCallback(RELNAMENSP, on_relation_name_changed, 0);
        CacheRegisterSyscacheCallback(PROCOID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(OPEROID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(TYPEOID, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(CASTSOURCETARGET, on_catalog_changed, 0);
        CacheRegisterSyscacheCallback(NAMESPACEOID, on_catalog_changed, 0);
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
    const char *search_path = namespace_search_path;
    uint64 hash = hash_of(text, params, state, search_path);

    auto found = memo->find(hash);
    if (found != memo->end()) {
        MemoEntry *entry = found->second;
        if (strcmp(entry->text, text) == 0 && same_params(entry->params, params) &&
            memcmp(&entry->state, &state, sizeof(state)) == 0 &&
            strcmp(entry->search_path, search_path) == 0 && same_locales(entry))
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
    entry->hash = hash;
    entry->text = pstrdup(text);
    entry->params = params != nullptr ? reinterpret_cast<ArrayType *>(PG_DETOAST_DATUM_COPY(
                                            PointerGetDatum(params)))
                                      : nullptr;
    entry->state = state;
    entry->search_path = pstrdup(search_path);
    entry->lc_monetary = pstrdup(locale_monetary);
    entry->lc_numeric = pstrdup(locale_numeric);
    entry->lc_time = pstrdup(locale_time);
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

} // namespace fast_count::query_memo
