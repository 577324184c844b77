#include "exact/exact_deltas.hpp"

#include "exact/exact_store.hpp"
#include "pg/pg_allocator.hpp"
#include "pg/pg_boundary.hpp"

#include <boost/container/vector.hpp>

extern "C" {
#include "access/xact.h"
}

namespace fast_count::exact_deltas {

namespace {

// What one (sub)transaction level did to one key. Records are kept in
// order of level: the deepest open level's records are at the end.
struct Pending {
    int level;
    pg_uuid_t key;
    int64 delta;    // net change at this level (after its rebase, if any)
    bool rebased;   // a TRUNCATE at this level reset the count: lower levels no longer add
    bool touched;   // a row change happened at this level after its rebase (or at all)
};

using PendingList = boost::container::vector<Pending, MemoryContextAllocator<Pending>>;

// Lives as long as the backend; allocated once in TopMemoryContext and
// never destroyed (nothing to do at process exit). clear() keeps its
// capacity: a transaction allocates nothing here.
PendingList *pending_list = nullptr;

PendingList &list()
{
    if (pending_list == nullptr) {
        void *memory = MemoryContextAlloc(TopMemoryContext, sizeof(PendingList));
        pending_list =
            new (memory) PendingList(MemoryContextAllocator<Pending>(TopMemoryContext));
        pending_list->reserve(8);
    }
    return *pending_list;
}

bool same_key(const pg_uuid_t &a, const pg_uuid_t &b)
{
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

// The record of key at the current level, created when missing.
Pending &at_current_level(const pg_uuid_t &key)
{
    PendingList &records = list();
    int level = GetCurrentTransactionNestLevel();
    for (auto it = records.rbegin(); it != records.rend() && it->level == level; ++it)
        if (same_key(it->key, key))
            return *it;
    records.push_back(Pending{level, key, 0, false, false});
    return records.back();
}

// Subtransaction commit: the records of level move to level - 1.
void merge_into_parent(int level)
{
    if (pending_list == nullptr)
        return;
    PendingList &records = *pending_list;
    size_t first = records.size();
    while (first > 0 && records[first - 1].level >= level)
        first--;
    for (size_t i = first; i < records.size();) {
        Pending child = records[i];
        Pending *parent = nullptr;
        for (size_t j = first; j-- > 0 && records[j].level == level - 1;)
            if (same_key(records[j].key, child.key))
                parent = &records[j];
        if (parent == nullptr) {
            records[i].level = level - 1;
            i++;
            continue;
        }
        if (child.rebased) {
            parent->delta = child.delta;
            parent->rebased = true;
            parent->touched = child.touched;
        } else {
            parent->delta += child.delta;
            parent->touched = parent->touched || child.touched;
        }
        records.erase(records.begin() + static_cast<std::ptrdiff_t>(i));
    }
}

// Subtransaction abort: what level and deeper did never happened.
void drop_level(int level)
{
    if (pending_list == nullptr)
        return;
    PendingList &records = *pending_list;
    while (!records.empty() && records.back().level >= level)
        records.pop_back();
}

void clear()
{
    if (pending_list != nullptr)
        pending_list->clear();
}

// Writes one row per key with a net change; all subtransactions are closed.
void flush()
{
    if (pending_list == nullptr || pending_list->empty())
        return;
    // A record stays in the list while its row is written, so that an
    // error here is followed by the abort callback's clear() only.
    PendingList &records = *pending_list;
    bool any = false;
    for (const Pending &record : records)
        any = any || record.delta != 0;
    if (any && exact_store::available()) {
        for (const Pending &record : records)
            if (record.delta != 0)
                exact_store::insert_delta(record.key, record.delta);
    }
    records.clear();
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

// Merging and dropping only move and erase records: nothing is allocated.
void at_subtransaction_end(bool committed, int level)
{
    if (committed)
        merge_into_parent(level);
    else
        drop_level(level);
}

void add(const pg_uuid_t &key, int64 delta)
{
    Pending &record = at_current_level(key);
    record.delta += delta;
    record.touched = true;
}

void rebase(const pg_uuid_t &key)
{
    Pending &record = at_current_level(key);
    record.delta = 0;
    record.rebased = true;
    record.touched = false;
}

bool untouched_since_rebase(const pg_uuid_t &key)
{
    if (pending_list == nullptr)
        return false;
    for (auto it = pending_list->rbegin(); it != pending_list->rend(); ++it) {
        if (!same_key(it->key, key))
            continue;
        if (it->touched)
            return false;
        if (it->rebased)
            return true;
    }
    return false;
}

void rekey(const pg_uuid_t &key, const pg_uuid_t &new_key)
{
    if (pending_list == nullptr)
        return;
    // Record by record, level by level: a record of new_key at the same
    // level absorbs the moved one.
    for (size_t i = 0; i < pending_list->size(); i++) {
        Pending &record = (*pending_list)[i];
        if (!same_key(record.key, key))
            continue;
        Pending *target = nullptr;
        for (Pending &other : *pending_list)
            if (other.level == record.level && same_key(other.key, new_key))
                target = &other;
        if (target == nullptr) {
            record.key = new_key;
            continue;
        }
        target->delta += record.delta;
        target->touched = target->touched || record.touched;
        pending_list->erase(pending_list->begin() + static_cast<std::ptrdiff_t>(i));
        i--;
    }
}

int64 pending(const pg_uuid_t &key)
{
    if (pending_list == nullptr)
        return 0;
    int64 total = 0;
    for (const Pending &record : *pending_list) {
        if (!same_key(record.key, key))
            continue;
        total = record.rebased ? record.delta : total + record.delta;
    }
    return total;
}

} // namespace fast_count::exact_deltas
