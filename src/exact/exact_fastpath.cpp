// Exact reads from shared memory; see exact_fastpath.hpp, and
// docs/exact-mode.md ("Read path") for why the answer is exact.
//
// Everything here runs with LWLocks held and PostgreSQL calls that may
// raise (clog lookups): no object with a destructor is alive in these
// functions, and an ERROR releases the LWLocks as any ERROR does.
#include "exact/exact_fastpath.hpp"

#include "catalog.hpp"
#include "settings.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace fast_count::exact_fastpath {

namespace {

constexpr int kSlots = 1024;  // keys mirrored at once (others read their rows)
constexpr int kRing = 64;     // writers in flight or unsettled, per key
// A reader that copies more entries than this settles what it can.
constexpr int kSettleOnRead = 16;
// Beyond this distance from a snapshot's xmin, xids are not compared in
// 32 bits and their clog may be gone: the slot starts again.
constexpr uint64 kMaxAge = uint64(1) << 30;

constexpr const char *kTranche = "fast_count exact reads";

enum SlotState : uint8 { kInvalid = 0, kSeeding, kValid };
enum EntryStatus : uint8 { kPending = 0, kCommitted };

struct Tag {
    Oid database;
    pg_uuid_t key;
};

struct RingEntry {
    uint64 xid;  // FullTransactionId of the writer's top level
    int64 delta;
    uint8 status;
};

// Fields are read and written under the slot's lock; tag and in_use also
// under the directory lock (exclusive) when they change.
struct Slot {
    Tag tag;
    bool in_use;
    // A group's key: the registration whose base makes the group's rows a
    // count. Set with tag (so also stable under the directory lock).
    bool grouped;
    pg_uuid_t parent;
    Oid catalog;      // fast_count.entries the key belongs to (DROP/CREATE EXTENSION)
    uint8 state;
    uint64 generation;
    uint64 seed_start;  // kSeeding: next xid when the mirror started
    uint64 horizon;     // kValid: every xid below it is complete; settled covers them
    int64 settled;
    int count;
    // When the key was last read or written (a statement's start, kept to
    // the second): with every slot taken, the least recently used goes.
    pg_atomic_uint64 last_used;
    RingEntry ring[kRing];
};

struct DirectoryEntry {
    Tag tag;  // hash key: must come first
    int index;
};

struct Shared {
    int next_victim;  // under the directory lock
    Slot slots[kSlots];
};

Shared *shared = nullptr;
HTAB *directory = nullptr;
LWLockPadded *locks = nullptr;  // [0]: the directory, [1 + i]: slot i

LWLock *directory_lock()
{
    return &locks[0].lock;
}

LWLock *slot_lock(int index)
{
    return &locks[1 + index].lock;
}

// Backend-local: where a key's slot was last seen (checked under its lock).
struct MemoEntry {
    Tag tag;
    int index;  // -1: empty
};
constexpr int kMemo = 64;
MemoEntry memo[kMemo];
bool memo_ready = false;

// What this transaction published, to mark at its end (a fixed array: the
// end-of-transaction callback must not allocate). A publication that does
// not fit stays pending and is resolved from the clog.
struct Published {
    int index;
    uint64 xid;
};
constexpr int kMaxPublished = 32;
Published published[kMaxPublished];
int published_count = 0;

uint64 reads_served = 0;

Tag tag_of(const pg_uuid_t &key)
{
    Tag tag;
    memset(&tag, 0, sizeof(tag));
    tag.database = MyDatabaseId;
    tag.key = key;
    return tag;
}

bool same_tag(const Tag &a, const Tag &b)
{
    return a.database == b.database && memcmp(a.key.data, b.key.data, UUID_LEN) == 0;
}

MemoEntry &memo_for(const Tag &tag)
{
    if (!memo_ready) {
        for (MemoEntry &entry : memo)
            entry.index = -1;
        memo_ready = true;
    }
    uint32 hash = 0;
    memcpy(&hash, tag.key.data, sizeof(hash));
    return memo[(hash ^ tag.database) % kMemo];
}

bool usable()
{
    return shared != nullptr && !RecoveryInProgress();
}

int directory_find(const Tag &tag)
{
    LWLockAcquire(directory_lock(), LW_SHARED);
    auto *found = static_cast<DirectoryEntry *>(hash_search(directory, &tag, HASH_FIND, nullptr));
    int index = found != nullptr ? found->index : -1;
    LWLockRelease(directory_lock());
    return index;
}

// The key's slot, locked in mode; nullptr when the key has none.
Slot *lock_slot(const Tag &tag, LWLockMode mode, int *index_out = nullptr)
{
    MemoEntry &remembered = memo_for(tag);
    for (int attempt = 0; attempt < 2; attempt++) {
        int index;
        if (attempt == 0) {
            if (remembered.index < 0 || !same_tag(remembered.tag, tag))
                continue;
            index = remembered.index;
        } else {
            index = directory_find(tag);
            if (index < 0)
                return nullptr;
        }
        LWLockAcquire(slot_lock(index), mode);
        Slot *slot = &shared->slots[index];
        if (slot->in_use && same_tag(slot->tag, tag)) {
            remembered.tag = tag;
            remembered.index = index;
            if (index_out != nullptr)
                *index_out = index;
            return slot;
        }
        LWLockRelease(slot_lock(index));
        remembered.index = -1;
    }
    return nullptr;
}

// Under the slot's exclusive lock: writers from now on publish into it,
// and it is valid once every transaction that may have missed it is over.
void start_seeding(Slot *slot, Oid catalog)
{
    slot->generation++;
    slot->catalog = catalog;
    slot->count = 0;
    slot->settled = 0;
    slot->horizon = 0;
    slot->state = kSeeding;
    // Read after writers can find the slot: a writer that looked before
    // has its xid already, below this.
    slot->seed_start = U64FromFullTransactionId(ReadNextFullTransactionId());
}

void touch(Slot *slot)
{
    uint64 now = static_cast<uint64>(GetCurrentStatementStartTimestamp());
    if (pg_atomic_read_u64(&slot->last_used) + USECS_PER_SEC < now)
        pg_atomic_write_u64(&slot->last_used, now);
}

void invalidate_locked(Slot *slot)
{
    slot->generation++;
    slot->state = kInvalid;
    slot->count = 0;
}

// A slot for a key that has none: a free one, or one no longer valid, or
// the least recently used one if no statement used it in the last two
// seconds (last_used lags by up to a second, touch()), so that keys read
// once, such as many groups each read now and then, do not take turns
// pushing out the ones read all the time.
void create_slot(const Tag &tag, Oid catalog, const pg_uuid_t *parent)
{
    LWLockAcquire(directory_lock(), LW_EXCLUSIVE);
    if (hash_search(directory, &tag, HASH_FIND, nullptr) != nullptr) {
        LWLockRelease(directory_lock());
        return;
    }
    int chosen = -1;
    for (int i = 0; i < kSlots && chosen < 0; i++)
        if (!shared->slots[i].in_use)
            chosen = i;
    for (int n = 0; n < kSlots && chosen < 0; n++) {
        int i = (shared->next_victim + n) % kSlots;
        LWLockAcquire(slot_lock(i), LW_SHARED);
        bool evictable = shared->slots[i].state == kInvalid;
        LWLockRelease(slot_lock(i));
        if (evictable) {
            chosen = i;
            shared->next_victim = (i + 1) % kSlots;
        }
    }
    // All in use (or of dropped databases): the least recently used goes;
    // its key reads its rows until it has a slot again.
    if (chosen < 0) {
        uint64 now = static_cast<uint64>(GetCurrentStatementStartTimestamp());
        uint64 oldest = now > 2 * USECS_PER_SEC ? now - 2 * USECS_PER_SEC : 0;
        int victim = -1;
        for (int i = 0; i < kSlots; i++) {
            uint64 used = pg_atomic_read_u64(&shared->slots[i].last_used);
            if (used < oldest) {
                oldest = used;
                victim = i;
            }
        }
        chosen = victim;
    }
    if (chosen < 0) {
        LWLockRelease(directory_lock());
        return;  // every slot mirrors a key: this one reads its rows
    }
    Slot *slot = &shared->slots[chosen];
    LWLockAcquire(slot_lock(chosen), LW_EXCLUSIVE);
    if (slot->in_use)
        hash_search(directory, &slot->tag, HASH_REMOVE, nullptr);
    bool found;
    auto *entry = static_cast<DirectoryEntry *>(hash_search(directory, &tag, HASH_ENTER_NULL, &found));
    if (entry == nullptr) {
        slot->in_use = false;
        LWLockRelease(slot_lock(chosen));
        LWLockRelease(directory_lock());
        return;
    }
    entry->index = chosen;
    slot->tag = tag;
    slot->in_use = true;
    slot->grouped = parent != nullptr;
    if (parent != nullptr)
        slot->parent = *parent;
    start_seeding(slot, catalog);
    pg_atomic_write_u64(&slot->last_used, static_cast<uint64>(GetCurrentStatementStartTimestamp()));
    LWLockRelease(slot_lock(chosen));
    LWLockRelease(directory_lock());
}

// xid (a recent one) as a full xid, relative to rel, which is not older.
uint64 full_of(TransactionId xid, uint64 rel)
{
    uint32 back = static_cast<uint32>(rel) - xid;
    return rel - back;
}

// The next xid to assign, without its lock when 8-byte reads are atomic:
// only a recent reference point is needed, read after the snapshot.
uint64 next_xid_reference()
{
#ifdef PG_HAVE_8BYTE_SINGLE_COPY_ATOMICITY
    pg_read_barrier();
    return U64FromFullTransactionId(
        *reinterpret_cast<volatile FullTransactionId *>(&ShmemVariableCache->nextXid));
#else
    return U64FromFullTransactionId(ReadNextFullTransactionId());
#endif
}

// The snapshot's xmin as a full xid; false when it cannot be placed.
bool snapshot_xmin(Snapshot snapshot, uint64 *xmin)
{
    if (snapshot == nullptr || snapshot->snapshot_type != SNAPSHOT_MVCC ||
        snapshot->takenDuringRecovery || !TransactionIdIsNormal(snapshot->xmin))
        return false;
    uint64 rel = next_xid_reference();
    if (static_cast<uint32>(rel) - snapshot->xmin >= (uint32(1) << 31))
        return false;
    *xmin = full_of(snapshot->xmin, rel);
    return true;
}

// Whether a complete transaction committed; false when its clog may be
// gone (then the slot starts again).
bool complete_committed(uint64 xid, bool *committed)
{
    TransactionId xid32 = static_cast<TransactionId>(xid);
    LWLockAcquire(XactTruncationLock, LW_SHARED);
    bool known = !TransactionIdPrecedes(xid32, ShmemVariableCache->oldestClogXid);
    if (known)
        *committed = TransactionIdDidCommit(xid32);
    LWLockRelease(XactTruncationLock);
    return known;
}

// Whether snapshot sees entry's writer committed; false in *known when
// that cannot be told.
bool visible(const RingEntry &entry, Snapshot snapshot, bool *known)
{
    *known = true;
    if (XidInMVCCSnapshot(static_cast<TransactionId>(entry.xid), snapshot))
        return false;  // in progress for this snapshot (or after it)
    if (entry.status == kCommitted)
        return true;
    bool committed = false;
    *known = complete_committed(entry.xid, &committed);
    return committed;
}

// Under the slot's exclusive lock, state kValid: entries below limit
// (every xid below it is complete) move into settled; pending ones (no end
// seen: prepared transactions, or an end being recorded) only when force.
// False when the slot must be invalidated.
bool settle(Slot *slot, uint64 limit, bool force)
{
    uint64 horizon = slot->horizon;
    for (int i = 0; i < slot->count;) {
        RingEntry &entry = slot->ring[i];
        if (entry.xid >= limit) {
            i++;
            continue;
        }
        bool committed = entry.status == kCommitted;
        if (!committed) {
            if (!force) {
                i++;
                continue;
            }
            if (!complete_committed(entry.xid, &committed))
                return false;
        }
        if (committed)
            slot->settled += entry.delta;
        horizon = Max(horizon, entry.xid + 1);
        slot->ring[i] = slot->ring[--slot->count];
    }
    slot->horizon = horizon;
    return true;
}

void remember_published(int index, uint64 xid)
{
    if (published_count < kMaxPublished)
        published[published_count++] = {index, xid};
}

} // namespace

Size shmem_size()
{
    return add_size(MAXALIGN(sizeof(Shared)), hash_estimate_size(kSlots, sizeof(DirectoryEntry)));
}

void shmem_request()
{
    RequestNamedLWLockTranche(kTranche, 1 + kSlots);
}

void shmem_startup()
{
    bool found;
    shared = static_cast<Shared *>(ShmemInitStruct("fast_count exact reads", sizeof(Shared), &found));
    if (!found) {
        memset(shared, 0, sizeof(Shared));
        for (Slot &slot : shared->slots)
            pg_atomic_init_u64(&slot.last_used, 0);
    }
    locks = GetNamedLWLockTranche(kTranche);
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(Tag);
    info.entrysize = sizeof(DirectoryEntry);
    directory = ShmemInitHash("fast_count exact reads directory", kSlots, kSlots, &info,
                              HASH_ELEM | HASH_BLOBS);
}

void publish(const pg_uuid_t &key, int64 delta)
{
    if (!usable() || delta == 0)
        return;
    FullTransactionId top = GetTopFullTransactionIdIfAny();
    if (!FullTransactionIdIsValid(top))
        return;
    uint64 xid = U64FromFullTransactionId(top);
    if (GetCurrentTransactionNestLevel() != 1) {
        // The row's xmin would not be the top level's xid.
        invalidate(key);
        return;
    }
    Tag tag = tag_of(key);
    int index;
    Slot *slot = lock_slot(tag, LW_EXCLUSIVE, &index);
    if (slot == nullptr)
        return;  // nobody mirrors the key: a mirror started later sees this row
    if (slot->state == kInvalid) {
        LWLockRelease(slot_lock(index));
        return;
    }
    // Every xid below this transaction's last snapshot's xmin is over (and
    // that xmin is not after this transaction's own xid).
    if (slot->state == kValid && TransactionIdIsNormal(RecentXmin) &&
        static_cast<uint32>(static_cast<TransactionId>(xid) - RecentXmin) < (uint32(1) << 31)) {
        uint64 limit = full_of(RecentXmin, xid);
        if (!settle(slot, limit, false) ||
            (slot->count == kRing && !settle(slot, limit, true)))
            invalidate_locked(slot);
    }
    // A seeding slot keeps every entry until it is valid (its count
    // subtracts the ones the counting snapshot saw).
    if (slot->state != kInvalid && slot->count == kRing)
        invalidate_locked(slot);
    touch(slot);
    if (slot->state != kInvalid) {
        slot->ring[slot->count++] = {xid, delta, kPending};
        remember_published(index, xid);
    }
    LWLockRelease(slot_lock(index));
}

void invalidate(const pg_uuid_t &key)
{
    if (shared == nullptr)
        return;
    Tag tag = tag_of(key);
    int index;
    Slot *slot = lock_slot(tag, LW_EXCLUSIVE, &index);
    if (slot != nullptr) {
        invalidate_locked(slot);
        LWLockRelease(slot_lock(index));
    }
    // The key's groups: their rows are a count only from its base on. A
    // group's slot created while this runs starts above this transaction's
    // xid, so it is not valid before this transaction is over for its
    // reader (as for any slot, docs/exact-mode.md, "Reads from shared
    // memory", 3 and 5). Tags, in_use and parents change only under the
    // directory lock held exclusively.
    LWLockAcquire(directory_lock(), LW_SHARED);
    for (int i = 0; i < kSlots; i++) {
        Slot *group = &shared->slots[i];
        if (!group->in_use || !group->grouped || group->tag.database != MyDatabaseId ||
            memcmp(group->parent.data, key.data, UUID_LEN) != 0)
            continue;
        LWLockAcquire(slot_lock(i), LW_EXCLUSIVE);
        invalidate_locked(group);
        LWLockRelease(slot_lock(i));
    }
    LWLockRelease(directory_lock());
}

bool read(const pg_uuid_t &key, Snapshot snapshot, int64 *sum)
{
    // SERIALIZABLE: reading the rows takes the predicate locks that let
    // PostgreSQL see a writer of this count as a conflict; no read here does.
    if (!usable() || !settings::exact_shared_reads || IsolationIsSerializable())
        return false;
    uint64 xmin;
    if (!snapshot_xmin(snapshot, &xmin))
        return false;
    Oid catalog = catalog::entries_oid(true);
    Tag tag = tag_of(key);
    int index;
    Slot *slot = lock_slot(tag, LW_SHARED, &index);
    if (slot == nullptr)
        return false;
    if (slot->state != kValid || slot->catalog != catalog || slot->horizon > xmin ||
        xmin - slot->horizon >= kMaxAge) {
        LWLockRelease(slot_lock(index));
        return false;
    }
    touch(slot);
    RingEntry ring[kRing];
    int count = slot->count;
    memcpy(ring, slot->ring, sizeof(RingEntry) * count);
    int64 total = slot->settled;
    LWLockRelease(slot_lock(index));

    for (int i = 0; i < count; i++) {
        bool known;
        if (visible(ring[i], snapshot, &known))
            total += ring[i].delta;
        if (!known) {
            invalidate(key);
            return false;
        }
    }
    if (count > kSettleOnRead && LWLockConditionalAcquire(slot_lock(index), LW_EXCLUSIVE)) {
        slot = &shared->slots[index];
        if (slot->in_use && same_tag(slot->tag, tag) && slot->state == kValid &&
            !settle(slot, xmin, false))
            invalidate_locked(slot);
        LWLockRelease(slot_lock(index));
    }
    reads_served++;
    *sum = total;
    return true;
}

void note_table_read(const pg_uuid_t &key, Snapshot snapshot, int64 sum, const pg_uuid_t *parent)
{
    if (!usable() || !settings::exact_shared_reads)
        return;
    uint64 xmin;
    if (!snapshot_xmin(snapshot, &xmin))
        return;
    Oid catalog = catalog::entries_oid(true);
    if (!OidIsValid(catalog))
        return;
    Tag tag = tag_of(key);
    int index;
    Slot *slot = lock_slot(tag, LW_EXCLUSIVE, &index);
    if (slot == nullptr) {
        create_slot(tag, catalog, parent);
        return;
    }
    if (slot->state == kInvalid || slot->catalog != catalog) {
        start_seeding(slot, catalog);
    } else if (slot->state == kSeeding && xmin >= slot->seed_start &&
               xmin - slot->seed_start < kMaxAge) {
        // Every transaction below seed_start is over for this snapshot;
        // those that began later published here. sum counts the published
        // ones this snapshot sees: what is left is settled below seed_start.
        int64 published_seen = 0;
        bool known = true;
        for (int i = 0; i < slot->count && known; i++)
            if (visible(slot->ring[i], snapshot, &known) && known)
                published_seen += slot->ring[i].delta;
        if (known) {
            slot->settled = sum - published_seen;
            slot->horizon = slot->seed_start;
            slot->state = kValid;
        } else {
            invalidate_locked(slot);
        }
    }
    LWLockRelease(slot_lock(index));
}

void at_transaction_end(transaction_callbacks::End end)
{
    if (published_count == 0)
        return;
    if (end != transaction_callbacks::End::kPrepare && shared != nullptr) {
        // kPrepare: the transaction ends later, elsewhere; readers ask the clog.
        for (int p = 0; p < published_count; p++) {
            const Published &mine = published[p];
            LWLockAcquire(slot_lock(mine.index), LW_EXCLUSIVE);
            Slot *slot = &shared->slots[mine.index];
            for (int i = 0; i < slot->count; i++) {
                if (slot->ring[i].xid != mine.xid)
                    continue;
                if (end == transaction_callbacks::End::kCommit)
                    slot->ring[i].status = kCommitted;
                else
                    slot->ring[i] = slot->ring[--slot->count];  // counts for nothing
                break;
            }
            LWLockRelease(slot_lock(mine.index));
        }
    }
    published_count = 0;
}

uint64 fast_reads()
{
    return reads_served;
}

} // namespace fast_count::exact_fastpath

using namespace fast_count;

// fast_count_exact_fast_reads() returns bigint: reads this backend served
// from shared memory. Not part of the SQL API; tests declare it.
extern "C" {
PG_FUNCTION_INFO_V1(fast_count_exact_fast_reads);
Datum fast_count_exact_fast_reads(PG_FUNCTION_ARGS)
{
    (void) fcinfo;
    PG_RETURN_INT64(static_cast<int64>(exact_fastpath::fast_reads()));
}
}
