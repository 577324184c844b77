#include "key_lock.hpp"

#include "pg_allocator.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
}

#include <boost/container/small_vector.hpp>

namespace fast_count::key_lock {

namespace {

// Key locks taken, by subtransaction nesting level: a subtransaction's
// abort releases the locks it took, its commit hands them to its parent.
using Counts = boost::container::small_vector<int, 8, MemoryContextAllocator<int>>;
Counts *taken = nullptr;

Counts &counts()
{
    if (taken == nullptr) {
        void *memory = MemoryContextAlloc(TopMemoryContext, sizeof(Counts));
        taken = new (memory)
            Counts(Counts::allocator_type(MemoryContextAllocator<int>(TopMemoryContext)));
    }
    return *taken;
}

void count_one(int delta)
{
    Counts &by_level = counts();
    size_t level = static_cast<size_t>(GetCurrentTransactionNestLevel());
    if (by_level.size() <= level)
        by_level.resize(level + 1, 0);
    by_level[level] += delta;
}

LOCKTAG key_tag(const pg_uuid_t &key)
{
    uint32 high;
    uint32 low;
    memcpy(&high, key.data, sizeof(high));
    memcpy(&low, key.data + sizeof(high), sizeof(low));
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, high, low, kKeyLockClass);
    return tag;
}

} // namespace

bool try_lock(const pg_uuid_t &key)
{
    LOCKTAG tag = key_tag(key);
    if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
        return false;
    count_one(1);
    return true;
}

void lock(const pg_uuid_t &key)
{
    LOCKTAG tag = key_tag(key);
    (void) LockAcquire(&tag, ExclusiveLock, false, false);
    count_one(1);
}

void unlock(const pg_uuid_t &key)
{
    LOCKTAG tag = key_tag(key);
    if (LockRelease(&tag, ExclusiveLock, false))
        count_one(-1);
}

int held()
{
    int total = 0;
    if (taken != nullptr)
        for (int n : *taken)
            total += n;
    return total;
}

bool holding_any()
{
    return held() > 0;
}

void at_transaction_end()
{
    if (taken != nullptr)
        taken->clear();
}

void at_subtransaction_end(bool committed, int level)
{
    if (taken == nullptr || taken->size() <= static_cast<size_t>(level))
        return;
    if (committed)
        (*taken)[level - 1] += (*taken)[level];
    (*taken)[level] = 0;
}

LOCKTAG worker_tag(Oid database)
{
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, database, 0, 0, kWorkerLockClass);
    return tag;
}

} // namespace fast_count::key_lock
