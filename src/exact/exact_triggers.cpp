// The write path of exact mode: C trigger functions.
//
// fast_count_exact_row_trigger serves two kinds of trigger (exact_ddl.cpp
// says which a table gets):
// - AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW on the table an exact query
//   reads (PostgreSQL clones it to partitions);
// - AFTER INSERT, AFTER UPDATE and AFTER DELETE FOR EACH STATEMENT with
//   transition tables, on the table and each partition: a multi-row
//   statement then costs no after-trigger event per row, only a copy of
//   the row in the transition table.
// Either way account_row() adds, for each exact query of the trigger's
// table, P(new) - P(old) to the backend's pending delta (exact_deltas.hpp);
// P is the query's WHERE clause, compiled once per backend and trigger, and
// compiled again when a relcache invalidation of the table or of the
// trigger's origin table arrives (registration, unregistration, ALTER TABLE
// and re-derivation send one).
//
// fast_count_exact_truncate_trigger: AFTER TRUNCATE FOR EACH STATEMENT on the
// table and on each of its partitions (statement triggers are not cloned).
#include "exact/exact_triggers.hpp"

#include "exact/exact_ddl.hpp"
#include "exact/exact_deltas.hpp"
#include "exact/exact_groups.hpp"
#include "exact/exact_store.hpp"
#include "key_lock.hpp"
#include "pg/pg_allocator.hpp"
#include "pg/pg_boundary.hpp"
#include "worker_control.hpp"

#include <boost/container/flat_map.hpp>
#include <boost/container/vector.hpp>

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "common/hashfn.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"
}

namespace fast_count::exact_internal {

namespace {

using exact_store::ExactEntry;
using exact_store::Change;
using exact_store::State;

constexpr uint32 kKeyMemo = 64;
struct KeyMemo {
    bytea *group;  // nullptr: empty
    pg_uuid_t key;
};

struct Counted {
    pg_uuid_t key;
    ExprState *qual;  // nullptr: every row counts
    bool grouped;     // one count per group of columns (in the trigger's relation)
    exact_groups::Columns columns;
    // Groups seen and their keys (a SHA-256 each), kKeyMemo of them by
    // their bytes' hash: a bulk load over a few groups hashes each once,
    // not once a row. In the state's context, allocated on first use.
    KeyMemo *key_memo;
};

enum class Kind { kRow, kStatement, kTruncate };

// What one trigger (on one relation) does, built on first use.
struct TriggerState {
    Oid trigger;
    Oid relid;    // the relation the trigger is on
    Oid origin;   // the table whose exact queries it serves
    bool inert;   // not one of ours (say, restored from a dump with other OIDs)
    bool stale;   // an invalidation arrived: build again before the next use
    MemoryContext context;
    ExprContext *econtext;
    int count;
    Counted *counted;
};

using StateMap = boost::container::flat_map<Oid, TriggerState *, std::less<Oid>,
                                            MemoryContextAllocator<std::pair<Oid, TriggerState *>>>;
using RetiredList = boost::container::vector<TriggerState *, MemoryContextAllocator<TriggerState *>>;

StateMap *states = nullptr;
RetiredList *retired = nullptr;
TriggerState *last_state = nullptr;
int depth = 0;  // trigger calls under way in this backend (a predicate may write)

void make_containers()
{
    if (states != nullptr)
        return;
    void *map_memory = MemoryContextAlloc(TopMemoryContext, sizeof(StateMap));
    states = new (map_memory)
        StateMap(MemoryContextAllocator<std::pair<Oid, TriggerState *>>(TopMemoryContext));
    void *list_memory = MemoryContextAlloc(TopMemoryContext, sizeof(RetiredList));
    retired = new (list_memory) RetiredList(MemoryContextAllocator<TriggerState *>(TopMemoryContext));
}

void free_retired()
{
    for (TriggerState *state : *retired)
        MemoryContextDelete(state->context);
    retired->clear();
}

// The table whose row trigger this one is (itself or, for a clone on a
// partition, the trigger it was cloned from), and that trigger's name.
Oid trigger_origin(Oid trigger, char **name)
{
    Relation rel = table_open(TriggerRelationId, AccessShareLock);
    Oid current = trigger;
    Oid origin = InvalidOid;
    for (int hops = 0; hops < 1000 && OidIsValid(current); hops++) {
        ScanKeyData key;
        ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
                    ObjectIdGetDatum(current));
        SysScanDesc scan = systable_beginscan(rel, TriggerOidIndexId, true, nullptr, 1, &key);
        HeapTuple tuple = systable_getnext(scan);
        current = InvalidOid;
        if (HeapTupleIsValid(tuple)) {
            Form_pg_trigger form = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple));
            if (OidIsValid(form->tgparentid)) {
                current = form->tgparentid;
            } else {
                origin = form->tgrelid;
                *name = pstrdup(NameStr(form->tgname));
            }
        }
        systable_endscan(scan);
    }
    table_close(rel, AccessShareLock);
    return origin;
}

ExprState *compile(const char *predicate, Relation rel, Oid origin)
{
    Node *expr = static_cast<Node *>(stringToNode(predicate));
    expr = reinterpret_cast<Node *>(expression_planner(reinterpret_cast<Expr *>(expr)));
    List *quals = make_ands_implicit(reinterpret_cast<Expr *>(expr));
    if (RelationGetRelid(rel) != origin) {
        // The predicate names the origin's columns; a partition may have
        // them at other positions.
        Relation origin_rel = relation_open(origin, AccessShareLock);
        quals = map_partition_varattnos(quals, 1, rel, origin_rel);
        relation_close(origin_rel, NoLock);
    }
    return ExecInitQual(quals, nullptr);
}

// The origin named by a statement trigger of ours ("fast_count_exact_
// <event>_<origin>"), or InvalidOid.
Oid statement_trigger_origin(const Trigger *trigger, Kind kind)
{
    char event[16];
    unsigned int origin = 0;
    char tail = 0;
    if (sscanf(trigger->tgname, "fast_count_exact_%15[a-z]_%u%c", event, &origin, &tail) != 2)
        return InvalidOid;
    const char *expected = kind == Kind::kTruncate                    ? "truncate"
                           : TRIGGER_FOR_INSERT(trigger->tgtype)      ? "insert"
                           : TRIGGER_FOR_UPDATE(trigger->tgtype)      ? "update"
                                                                      : "delete";
    return strcmp(event, expected) == 0 ? origin : InvalidOid;
}

TriggerState *build(const Trigger *trigger, Relation rel, Kind kind)
{
    bool truncate = kind == Kind::kTruncate;
    MemoryContext context = AllocSetContextCreate(CacheMemoryContext, "fast_count exact trigger",
                                                  ALLOCSET_SMALL_SIZES);
    MemoryContext caller = MemoryContextSwitchTo(context);
    auto *state = static_cast<TriggerState *>(palloc0(sizeof(TriggerState)));
    state->trigger = trigger->tgoid;
    state->relid = RelationGetRelid(rel);
    state->context = context;

    if (kind != Kind::kRow) {
        // One statement trigger per (event, origin, relation): its name
        // says the origin.
        state->origin = statement_trigger_origin(trigger, kind);
        state->inert = !OidIsValid(state->origin) ||
                       !list_member_oid(self_and_ancestors(state->relid), state->origin);
    } else {
        char *name = nullptr;
        state->origin = trigger_origin(trigger->tgoid, &name);
        state->inert = !OidIsValid(state->origin) || name == nullptr ||
                       strcmp(name, row_trigger_name(state->origin)) != 0;
    }

    List *entries = state->inert ? NIL : exact_store::exact_entries(state->origin);
    state->counted = static_cast<Counted *>(palloc0(sizeof(Counted) * (list_length(entries) + 1)));
    ListCell *lc;
    foreach (lc, entries) {
        auto *entry = static_cast<ExactEntry *>(lfirst(lc));
        if (entry->state != State::kBackfill && entry->state != State::kReady)
            continue;
        Counted &counted = state->counted[state->count++];
        counted.key = entry->key;
        counted.qual = (!truncate && entry->predicate != nullptr)
                           ? compile(entry->predicate, rel, state->origin)
                           : nullptr;
        counted.grouped = entry->group_by != nullptr;
        counted.key_memo = nullptr;
        if (counted.grouped && !truncate &&
            !exact_groups::find_columns(rel, entry->group_by, &counted.columns))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("a group column of an exact count is missing in \"%s\"",
                                   RelationGetRelationName(rel)),
                            errhint("Unregister the grouped count with fast_count_unregister().")));
    }
    state->econtext = CreateStandaloneExprContext();
    MemoryContextSwitchTo(caller);
    return state;
}

TriggerState *state_for(const Trigger *trigger, Relation rel, Kind kind)
{
    make_containers();
    if (depth == 0 && !retired->empty())
        free_retired();
    if (last_state != nullptr && last_state->trigger == trigger->tgoid && !last_state->stale)
        return last_state;
    last_state = nullptr;
    auto found = states->find(trigger->tgoid);
    if (found != states->end()) {
        if (!found->second->stale) {
            last_state = found->second;
            return last_state;
        }
        // A call further up may still use it: free it later.
        retired->push_back(found->second);
        states->erase(found);
    }
    TriggerState *state = build(trigger, rel, kind);
    states->emplace(trigger->tgoid, state);
    last_state = state;
    return state;
}

inline bool matches(const Counted &counted, ExprContext *econtext, TupleTableSlot *slot)
{
    if (counted.qual == nullptr)
        return true;
    econtext->ecxt_scantuple = slot;
    bool result = ExecQual(counted.qual, econtext);
    ResetExprContext(econtext);
    return result;
}

pg_uuid_t key_of_group(TriggerState *state, Counted &counted, const bytea *group)
{
    if (counted.key_memo == nullptr)
        counted.key_memo = static_cast<KeyMemo *>(
            MemoryContextAllocZero(state->context, sizeof(KeyMemo) * kKeyMemo));
    uint32 hash = hash_bytes(reinterpret_cast<const unsigned char *>(VARDATA_ANY(group)),
                             static_cast<int>(VARSIZE_ANY_EXHDR(group)));
    KeyMemo &memo = counted.key_memo[hash % kKeyMemo];
    if (memo.group != nullptr && exact_groups::same_group(memo.group, group))
        return memo.key;
    pg_uuid_t key = exact_groups::group_key(counted.key, group);
    size_t size = VARSIZE_ANY(group);
    if (memo.group == nullptr || VARSIZE_ANY(memo.group) < size) {
        if (memo.group != nullptr)
            pfree(memo.group);
        memo.group = static_cast<bytea *>(MemoryContextAlloc(state->context, size));
    }
    memcpy(memo.group, group, size);
    memo.key = key;
    return key;
}

// Every per-row change of a count goes through here, whichever trigger saw
// the row. One row's change (old_slot nullptr: inserted; new_slot nullptr:
// deleted), for every exact query of the relation: P(new) - P(old), on
// the row's group for a grouped count (a row changing groups leaves one
// and enters the other).
void account_row(TriggerState *state, TupleTableSlot *old_slot, TupleTableSlot *new_slot)
{
    for (int i = 0; i < state->count; i++) {
        Counted &counted = state->counted[i];
        if (!counted.grouped && old_slot != nullptr && new_slot != nullptr &&
            counted.qual == nullptr)
            continue;  // an UPDATE of a count of every row changes nothing
        bool was = old_slot != nullptr && matches(counted, state->econtext, old_slot);
        bool is = new_slot != nullptr && matches(counted, state->econtext, new_slot);
        if (!counted.grouped) {
            if (was != is)
                exact_deltas::add(counted.key, is ? 1 : -1);
            continue;
        }
        if (!was && !is)
            continue;
        bytea *old_group = was ? exact_groups::group_of_slot(counted.columns, old_slot) : nullptr;
        bytea *new_group = is ? exact_groups::group_of_slot(counted.columns, new_slot) : nullptr;
        if (was && is && exact_groups::same_group(old_group, new_group))
            continue;
        if (was)
            exact_deltas::add_group(key_of_group(state, counted, old_group), counted.key,
                                    old_group, -1);
        if (is)
            exact_deltas::add_group(key_of_group(state, counted, new_group), counted.key,
                                    new_group, 1);
    }
}

void wrong_way(const TriggerData *data, const char *expected)
{
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("fast_count trigger fired the wrong way"),
                    errdetail("Trigger \"%s\" must be AFTER %s.", data->tg_trigger->tgname,
                              expected)));
}

TriggerData *trigger_data(FunctionCallInfo fcinfo, bool truncate)
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("function can only be called as a trigger")));
    auto *data = reinterpret_cast<TriggerData *>(fcinfo->context);
    TriggerEvent event = data->tg_event;
    const char *expected = truncate ? "TRUNCATE FOR EACH STATEMENT"
                                    : "INSERT OR UPDATE OR DELETE FOR EACH ROW, or AFTER INSERT, "
                                      "UPDATE or DELETE FOR EACH STATEMENT with transition tables";
    if (!TRIGGER_FIRED_AFTER(event) || TRIGGER_FIRED_BY_TRUNCATE(event) != truncate)
        wrong_way(data, expected);
    if (!truncate && !TRIGGER_FIRED_FOR_ROW(event)) {
        bool needs_old = !TRIGGER_FIRED_BY_INSERT(event);
        bool needs_new = !TRIGGER_FIRED_BY_DELETE(event);
        if ((needs_old && data->tg_oldtable == nullptr) ||
            (needs_new && data->tg_newtable == nullptr))
            wrong_way(data, expected);
    }
    return data;
}


// The next row of a transition table, read through our own read pointer
// (other triggers may read the same tuplestore).
class TransitionReader {
public:
    TransitionReader(Tuplestorestate *store, Relation rel) : store_(store)
    {
        if (store_ == nullptr)
            return;
        pointer_ = tuplestore_alloc_read_pointer(store_, EXEC_FLAG_REWIND);
        tuplestore_select_read_pointer(store_, pointer_);
        tuplestore_rescan(store_);
        slot_ = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
    }
    // The slot holding the next row, or nullptr at the end.
    TupleTableSlot *next()
    {
        if (store_ == nullptr || done_)
            return nullptr;
        tuplestore_select_read_pointer(store_, pointer_);
        done_ = !tuplestore_gettupleslot(store_, true, false, slot_);
        return done_ ? nullptr : slot_;
    }
    void close()
    {
        if (slot_ != nullptr)
            ExecDropSingleTupleTableSlot(slot_);
        slot_ = nullptr;
    }

private:
    Tuplestorestate *store_;
    int pointer_ = 0;
    TupleTableSlot *slot_ = nullptr;
    bool done_ = false;
};

// AFTER INSERT / UPDATE / DELETE FOR EACH STATEMENT: every row of the
// statement's transition tables.
void account_statement(TriggerData *data)
{
    TriggerState *state = state_for(data->tg_trigger, data->tg_relation, Kind::kStatement);
    if (state->inert || state->count == 0)
        return;
    TriggerEvent event = data->tg_event & TRIGGER_EVENT_OPMASK;
    bool by_insert = TRIGGER_FIRED_BY_INSERT(event);
    bool by_delete = TRIGGER_FIRED_BY_DELETE(event);
    TransitionReader olds(by_insert ? nullptr : data->tg_oldtable, data->tg_relation);
    TransitionReader news(by_delete ? nullptr : data->tg_newtable, data->tg_relation);
    depth++;
    for (;;) {
        TupleTableSlot *old_slot = olds.next();
        TupleTableSlot *new_slot = news.next();
        if (old_slot == nullptr && new_slot == nullptr)
            break;
        // UPDATE: PostgreSQL stores each row's old and new version in step.
        // Should they ever not pair up, an old row alone still leaves and a
        // new one still enters: the sums are the same.
        account_row(state, old_slot, new_slot);
    }
    depth--;
    olds.close();
    news.close();
}

} // namespace

void check_predicate(const char *predicate, Oid table)
{
    if (predicate == nullptr)
        return;
    Relation rel = relation_open(table, AccessShareLock);
    MemoryContext context =
        AllocSetContextCreate(CurrentMemoryContext, "fast_count predicate check", ALLOCSET_SMALL_SIZES);
    MemoryContext caller = MemoryContextSwitchTo(context);
    (void) compile(predicate, rel, table);
    MemoryContextSwitchTo(caller);
    MemoryContextDelete(context);
    relation_close(rel, NoLock);
}

void triggers_relation_changed(Oid relid)
{
    if (states == nullptr)
        return;
    for (auto &item : *states) {
        TriggerState *state = item.second;
        if (relid == InvalidOid || state->relid == relid || state->origin == relid)
            state->stale = true;
    }
}

void triggers_at_transaction_end(transaction_callbacks::End)
{
    depth = 0;
    if (retired != nullptr && !retired->empty())
        free_retired();
}

} // namespace fast_count::exact_internal

using namespace fast_count;
using namespace fast_count::exact_internal;

// AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW, or AFTER INSERT, UPDATE or
// DELETE FOR EACH STATEMENT with transition tables.
FAST_COUNT_FUNCTION(fast_count_exact_row_trigger)
{
    TriggerData *data = trigger_data(fcinfo, false);
    if (!TRIGGER_FIRED_FOR_ROW(data->tg_event)) {
        account_statement(data);
        return PointerGetDatum(nullptr);
    }
    Relation rel = data->tg_relation;
    // A row moved between partitions by an UPDATE of the partitioned table
    // fires DELETE and INSERT on the partitions, which count it; PostgreSQL
    // 15 also fires UPDATE on the partitioned table itself (for foreign
    // keys), which must not count it a second time.
    if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
        return PointerGetDatum(nullptr);

    TriggerState *state = state_for(data->tg_trigger, rel, Kind::kRow);
    if (state->inert || state->count == 0)
        return PointerGetDatum(nullptr);

    depth++;
    TriggerEvent event = data->tg_event;
    if (TRIGGER_FIRED_BY_INSERT(event))
        account_row(state, nullptr, data->tg_trigslot);
    else if (TRIGGER_FIRED_BY_DELETE(event))
        account_row(state, data->tg_trigslot, nullptr);
    else
        account_row(state, data->tg_trigslot, data->tg_newslot);
    depth--;
    return PointerGetDatum(nullptr);
}

// AFTER TRUNCATE FOR EACH STATEMENT, on the table and each partition.
FAST_COUNT_FUNCTION(fast_count_exact_truncate_trigger)
{
    TriggerData *data = trigger_data(fcinfo, true);
    Relation rel = data->tg_relation;
    TriggerState *state = state_for(data->tg_trigger, rel, Kind::kTruncate);
    if (state->inert || state->count == 0)
        return PointerGetDatum(nullptr);

    // Copy the keys: taking locks may process invalidations.
    int count = state->count;
    auto *keys = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t) * count));
    for (int i = 0; i < count; i++)
        keys[i] = state->counted[i].key;
    bool whole_table = state->relid == state->origin;

    bool needs_worker = false;
    for (int i = 0; i < count; i++) {
        const pg_uuid_t &key = keys[i];
        key_lock::lock(key);
        exact_store::ExactEntry entry;
        if (!exact_store::lookup(key, &entry) || !entry.exact)
            continue;
        if (entry.state == exact_store::State::kRederive) {
            exact_store::remove_all(key);
            continue;
        }
        if (whole_table) {
            // The table is empty, and no writer is in flight on it (TRUNCATE
            // holds ACCESS EXCLUSIVE): the count restarts at a base of 0.
            exact_store::remove_all(key);
            exact_store::insert_base(key, 0);
            if (entry.state != exact_store::State::kReady) {
                exact_store::update(key, Change().to_state(State::kReady));
            }
            exact_deltas::rebase(key);
        } else {
            // One partition lost its rows while writers may be busy on the
            // others: count again. Not needed when this statement (or this
            // transaction) truncated the whole table and nothing changed since.
            if (exact_deltas::untouched_since_rebase(key))
                continue;
            exact_store::remove_all(key);
            exact_store::update(key, Change().to_state(State::kBackfill));
            needs_worker = true;
        }
    }
    if (needs_worker)
        worker_control::worker_needed_at_commit();
    return PointerGetDatum(nullptr);
}
