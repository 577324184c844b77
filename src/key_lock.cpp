#include "key_lock.hpp"

extern "C" {
#include "miscadmin.h"
}

namespace fast_count::key_lock {

namespace {

int locks_taken = 0;

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
    locks_taken++;
    return true;
}

void lock(const pg_uuid_t &key)
{
    LOCKTAG tag = key_tag(key);
    (void) LockAcquire(&tag, ExclusiveLock, false, false);
    locks_taken++;
}

void unlock(const pg_uuid_t &key)
{
    LOCKTAG tag = key_tag(key);
    if (LockRelease(&tag, ExclusiveLock, false) && locks_taken > 0)
        locks_taken--;
}

bool holding_any()
{
    return locks_taken > 0;
}

void at_transaction_end()
{
    locks_taken = 0;
}

LOCKTAG worker_tag(Oid database)
{
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, database, 0, 0, kWorkerLockClass);
    return tag;
}

} // namespace fast_count::key_lock
