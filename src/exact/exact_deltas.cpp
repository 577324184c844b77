#include "exact/exact_deltas.hpp"

#include "exact/exact_store.hpp"
#include "pg/pg_allocator.hpp"
#include "pg/pg_boundary.hpp"

#include <boost/container/vector.hpp>
#include <boost/unordered_map.hpp>

extern "C" {
#include "access/xact.h"
}

namespace fast_count::exact_deltas {

namespace {

// What one stretch of a (sub)transaction did to one key.
struct Record {
    int64 delta = 0;       // net change (after its rebase, if any)
    bool rebased = false;  // a TRUNCATE reset the count: what came before no longer adds
    bool touched = false;  // a row change happened after its rebase (or at all)
    bool grouped = false;  // a group's record: parent and group are set
    pg_uuid_t parent{};
    bytea *group = nullptr;  // in group_memory
};

struct UuidHash {
    size_t operator()(const pg_uuid_t &key) const noexcept
    {
        size_t hash;
        memcpy(&hash, key.data, sizeof(hash));  // a SHA-256 prefix
        return hash;
    }
};
struct UuidEqual {
    bool operator()(const pg_uuid_t &a, const pg_uuid_t &b) const noexcept
    {
        return memcmp(a.data, b.data, UUID_LEN) == 0;
    }
};
using Records = boost::unordered_map<pg_uuid_t, Record, UuidHash, UuidEqual,
                                     MemoryContextAllocator<std::pair<const pg_uuid_t, Record>>>;

// The records of one stretch, at one subtransaction level. Stretches are
// kept in the order they began: a subtransaction's commit only lowers the
// level of its stretches (it allocates nothing: it runs where an error
// would be a PANIC), its abort drops them; stretches of equal level are
// merged later, where allocating is safe (the next row change, PRE_COMMIT).
struct Stretch {
    int level;
    Records *records;
};
using Stretches = boost::container::vector<Stretch, MemoryContextAllocator<Stretch>>;

// Allocated once in TopMemoryContext; kept across transactions with their
// capacity (maps are cleared, not freed: a transaction allocates little).
Stretches *stretches = nullptr;
int active = 0;  // stretches in use, the first ones
MemoryContext group_memory = nullptr;  // groups' values, reset at transaction end
// The command of this transaction's latest change (any key), or none.
CommandId last_change = InvalidCommandId;

void note_change()
{
    last_change = GetCurrentCommandId(false);
}

Stretches &all()
{
    if (stretches == nullptr) {
        void *memory = MemoryContextAlloc(TopMemoryContext, sizeof(Stretches));
        stretches = new (memory) Stretches(MemoryContextAllocator<Stretch>(TopMemoryContext));
        group_memory = AllocSetContextCreate(TopMemoryContext, "fast_count exact groups",
                                             ALLOCSET_DEFAULT_SIZES);
    }
    return *stretches;
}

Records *new_records()
{
    void *memory = MemoryContextAlloc(TopMemoryContext, sizeof(Records));
    return new (memory) Records(8, UuidHash(), UuidEqual(),
                                MemoryContextAllocator<std::pair<const pg_uuid_t, Record>>(
                                    TopMemoryContext));
}

// Adds a later record of key to an earlier one, as time runs.
void follow(Record &earlier, const Record &later)
{
    if (later.rebased) {
        earlier.delta = later.delta;
        earlier.rebased = true;
        earlier.touched = later.touched;
    } else {
        earlier.delta += later.delta;
        earlier.touched = earlier.touched || later.touched;
    }
    if (later.grouped && !earlier.grouped) {
        earlier.grouped = true;
        earlier.parent = later.parent;
        earlier.group = later.group;
    }
}

// A TRUNCATE of a grouped registration in records: its groups' changes
// written before it no longer count.
void reset_groups(Records &records, const pg_uuid_t &parent)
{
    UuidEqual equal;
    for (auto &[key, record] : records)
        if (record.grouped && equal(record.parent, parent))
            record.delta = 0;
}

// Merges stretch `from` into the one before it (same level, or the caller
// is closing every level). A record moves only once it is in place: an
// allocation failure leaves both stretches consistent.
void merge_down(int from)
{
    Stretches &list = all();
    Records &upper = *list[from].records;
    Records &lower = *list[from - 1].records;
    // A rebased grouped registration resets the lower stretch's groups
    // first (its groups in the upper stretch came after the TRUNCATE).
    for (auto &[key, record] : upper)
        if (record.rebased)
            reset_groups(lower, key);
    for (auto it = upper.begin(); it != upper.end();) {
        auto [target, inserted] = lower.try_emplace(it->first, it->second);
        if (!inserted)
            follow(target->second, it->second);
        it = upper.erase(it);
    }
    // Keep the emptied map for reuse at the end of the active ones.
    Stretch emptied = list[from];
    for (int i = from; i + 1 < active; i++)
        list[i] = list[i + 1];
    list[active - 1] = emptied;
    active--;
}

// Stretches of equal level next to each other become one.
void compact()
{
    Stretches &list = all();
    for (int i = active - 1; i > 0; i--)
        if (list[i].level == list[i - 1].level)
            merge_down(i);
}

// The record of key in the current level's stretch, created when missing.
Record &at_current_level(const pg_uuid_t &key)
{
    Stretches &list = all();
    int level = GetCurrentTransactionNestLevel();
    if (active == 0 || list[active - 1].level != level) {
        compact();
        if (active == 0 || list[active - 1].level != level) {
            if (active == static_cast<int>(list.size()))
                list.push_back(Stretch{level, new_records()});
            list[active].level = level;
            active++;
        }
    }
    return (*list[active - 1].records)[key];
}

void clear()
{
    last_change = InvalidCommandId;
    if (stretches == nullptr)
        return;
    for (int i = 0; i < active; i++)
        (*stretches)[i].records->clear();
    active = 0;
    MemoryContextReset(group_memory);
}

// Writes one row per key with a net change; all subtransactions are closed.
void flush()
{
    if (stretches == nullptr || active == 0)
        return;
    // Records stay while their rows are written, so that an error here is
    // followed by the abort callback's clear() only.
    while (active > 1)
        merge_down(active - 1);
    Records &records = *(*stretches)[0].records;
    bool any = false;
    for (const auto &[key, record] : records)
        any = any || record.delta != 0;
    if (any && exact_store::available()) {
        for (const auto &[key, record] : records) {
            if (record.delta == 0)
                continue;
            if (record.grouped)
                exact_store::insert_group_delta(key, record.parent, record.group, record.delta);
            else
                exact_store::insert_delta(key, record.delta);
        }
    }
    clear();
}

} // namespace

void before_commit()
{
    flush();
}

void at_transaction_end(transaction_callbacks::End)
{
    clear();
}

// Lowering levels and dropping stretches allocate nothing.
void at_subtransaction_end(bool committed, int level)
{
    if (stretches == nullptr)
        return;
    Stretches &list = *stretches;
    while (active > 0 && list[active - 1].level >= level) {
        if (committed) {
            // The stretches of level and deeper now belong to level - 1.
            for (int i = active - 1; i >= 0 && list[i].level >= level; i--)
                list[i].level = level - 1;
            return;
        }
        list[active - 1].records->clear();
        active--;
    }
}

void add(const pg_uuid_t &key, int64 delta)
{
    Record &record = at_current_level(key);
    record.delta += delta;
    record.touched = true;
    note_change();
}

void add_group(const pg_uuid_t &key, const pg_uuid_t &parent, const bytea *group, int64 delta)
{
    Record &record = at_current_level(key);
    if (!record.grouped) {
        size_t size = VARSIZE_ANY(group);
        auto *copy = static_cast<bytea *>(MemoryContextAlloc(group_memory, size));
        memcpy(copy, group, size);
        record.grouped = true;
        record.parent = parent;
        record.group = copy;
    }
    record.delta += delta;
    at_current_level(parent).touched = true;
    note_change();
}

void rebase(const pg_uuid_t &key)
{
    Record &record = at_current_level(key);  // node-based: stays valid
    reset_groups(*(*stretches)[active - 1].records, key);
    record.delta = 0;
    record.rebased = true;
    record.touched = false;
    note_change();
}

bool pending_seen_by(Snapshot snapshot)
{
    // A row a command wrote is seen by snapshots of later commands only.
    return last_change == InvalidCommandId || last_change < snapshot->curcid;
}

bool untouched_since_rebase(const pg_uuid_t &key)
{
    if (stretches == nullptr)
        return false;
    for (int i = active - 1; i >= 0; i--) {
        Records &records = *(*stretches)[i].records;
        auto found = records.find(key);
        if (found == records.end())
            continue;
        if (found->second.touched)
            return false;
        if (found->second.rebased)
            return true;
    }
    return false;
}

void rekey(const pg_uuid_t &key, const pg_uuid_t &new_key)
{
    if (stretches == nullptr)
        return;
    for (int i = 0; i < active; i++) {
        Records &records = *(*stretches)[i].records;
        auto found = records.find(key);
        if (found == records.end())
            continue;
        Record moved = found->second;
        auto [target, inserted] = records.try_emplace(new_key, moved);
        if (!inserted) {
            target->second.delta += moved.delta;
            target->second.touched = target->second.touched || moved.touched;
        }
        records.erase(key);
    }
}

int64 pending(const pg_uuid_t &key, const pg_uuid_t *parent)
{
    if (stretches == nullptr)
        return 0;
    int64 total = 0;
    for (int i = 0; i < active; i++) {
        Records &records = *(*stretches)[i].records;
        if (parent != nullptr) {
            auto reset = records.find(*parent);
            if (reset != records.end() && reset->second.rebased)
                total = 0;
        }
        auto found = records.find(key);
        if (found == records.end())
            continue;
        total = found->second.rebased ? found->second.delta : total + found->second.delta;
    }
    return total;
}

List *pending_groups(const pg_uuid_t &parent)
{
    if (stretches == nullptr)
        return NIL;
    UuidEqual equal;
    Records sums(8, UuidHash(), UuidEqual(),
                 MemoryContextAllocator<std::pair<const pg_uuid_t, Record>>(CurrentMemoryContext));
    for (int i = 0; i < active; i++) {
        Records &records = *(*stretches)[i].records;
        auto reset = records.find(parent);
        if (reset != records.end() && reset->second.rebased)
            for (auto &[key, sum] : sums)
                sum.delta = 0;
        for (const auto &[key, record] : records) {
            if (!record.grouped || !equal(record.parent, parent))
                continue;
            Record &sum = sums[key];
            sum.delta += record.delta;
            sum.group = record.group;
        }
    }
    List *groups = NIL;
    for (const auto &item : sums) {
        if (item.second.delta == 0)
            continue;
        // palloc and lappend may raise while `sums` lives.
        pg_call([&] {
            auto *group =
                static_cast<exact_store::GroupSum *>(palloc(sizeof(exact_store::GroupSum)));
            group->key = item.first;
            group->group = item.second.group;
            group->sum = item.second.delta;
            groups = lappend(groups, group);
        });
    }
    return groups;
}

} // namespace fast_count::exact_deltas
