#include "key_lock.hpp"

#include "pg/pg_allocator.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
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

LOCKTAG tag_of_class(const pg_uuid_t &key, uint16 lock_class)
{
    uint32 high;
    uint32 low;
    memcpy(&high, key.data, sizeof(high));
    memcpy(&low, key.data + sizeof(high), sizeof(low));
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, high, low, lock_class);
    return tag;
}

LOCKTAG key_tag(const pg_uuid_t &key)
{
    return tag_of_class(key, kKeyLockClass);
}

// Waits until no count of key is in flight; false when none was.
bool wait_for_count(const pg_uuid_t &key)
{
    LOCKTAG tag = tag_of_class(key, kCountingLockClass);
    if (LockAcquire(&tag, ShareLock, false, true) != LOCKACQUIRE_NOT_AVAIL) {
        LockRelease(&tag, ShareLock, false);
        return false;
    }
    // A real lock wait: the deadlock detector and isolation tests see it.
    (void) LockAcquire(&tag, ShareLock, false, false);
    LockRelease(&tag, ShareLock, false);
    return true;
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

bool lock_bounded(const pg_uuid_t &key, double grace_ms)
{
    constexpr long kMaxPollMs = 10;
    long poll_ms = 1;
    double waited_ms = 0;
    for (;;) {
        if (try_lock(key))
            return true;
        if (wait_for_count(key)) {
            // The holder publishes before it ends its count: look again.
            waited_ms = 0;
            poll_ms = 1;
            continue;
        }
        // Locked, nothing counting: the holder is between its count and
        // the lock's release, or keeps the lock for its transaction.
        if (waited_ms >= grace_ms)
            return false;
        (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, poll_ms,
                         PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        waited_ms += poll_ms;
        poll_ms = Min(poll_ms * 2, kMaxPollMs);
    }
}

void begin_counting(const pg_uuid_t &key)
{
    LOCKTAG tag = tag_of_class(key, kCountingLockClass);
    (void) LockAcquire(&tag, ExclusiveLock, false, false);
}

void end_counting(const pg_uuid_t &key)
{
    LOCKTAG tag = tag_of_class(key, kCountingLockClass);
    LockRelease(&tag, ExclusiveLock, false);
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
