// Key locks: transaction-level advisory locks in a lock class of our own, so
// that two refreshes of one query never run at once and user
// pg_advisory_lock() keys can never collide with ours.
#pragma once

extern "C" {
#include "postgres.h"

#include "storage/lock.h"
#include "utils/uuid.h"
}

namespace fast_count::key_lock {

// Fourth field of the advisory lock tag. User advisory locks use 1 and 2;
// pg_locks shows ours with objsubid 17987 ("FC"), 17988 (worker) and 17989
// (a count in flight).
constexpr uint16 kKeyLockClass = 0x4643;
constexpr uint16 kWorkerLockClass = 0x4644;
constexpr uint16 kCountingLockClass = 0x4645;

// Takes the key's lock if it is free.
bool try_lock(const pg_uuid_t &key);

// Waits for the key's lock.
void lock(const pg_uuid_t &key);

// Waits for the key's lock only while its holder is counting (see
// Counting), then at most about grace_ms more: a holder that keeps the lock
// for the rest of its transaction (a registration, an exact-mode change)
// must not hold up readers. False when the lock was not had.
bool lock_bounded(const pg_uuid_t &key, double grace_ms);

// Releases a key lock before the end of the transaction: a reader or a
// refresh releases it as soon as its count is published, whatever its
// transaction does afterwards.
void unlock(const pg_uuid_t &key);

// Marks a count of key in flight, from begin_counting() until
// end_counting() (or the end of the (sub)transaction, on error): waiters in
// lock_bounded() wait for it as long as it takes, and no longer. Plain
// functions, not an object: an ERROR in the count longjmps past C++ scopes.
void begin_counting(const pg_uuid_t &key);
void end_counting(const pg_uuid_t &key);

// Whether this transaction took any key lock; a backend that holds one never
// waits for another, so readers cannot deadlock on each other.
bool holding_any();

// How many key locks this transaction holds. Each takes a slot of the shared
// lock table until the transaction ends, so a transaction keeps at most
// kMaxHeld counts of its own (the rest are counted live).
int held();
constexpr int kMaxHeld = 64;

// Forgets the transaction's locks (they are released at its end), or a
// subtransaction's (released at its abort, its parent's at its commit).
void at_transaction_end();
void at_subtransaction_end(bool committed, int level);

// The session lock that makes a worker the only one of its database.
LOCKTAG worker_tag(Oid database);

} // namespace fast_count::key_lock
