#include "shared_index.hpp"

#include "mode_registry.hpp"
#include "pg/pg_allocator.hpp"
#include "settings.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
}

#include <boost/container/vector.hpp>

#include <algorithm>

namespace fast_count::shared_index {

namespace {

struct Tag {
    Oid database;
    pg_uuid_t key;
};

struct Slot {
    Tag tag;      // hash key: must come first
    Oid catalog;  // the fast_count.entries the values were read from
    bool has_count;
    bool has_expires_at;
    bool registered;
    bool has_next_refresh_at;
    uint8 mode;
    bool is_estimate;
    int64 count;
    TimestampTz counted_at;
    TimestampTz expires_at;
    TimestampTz next_refresh_at;
    double count_ms;
    // Every hit writes a counter: keep them off the cache line the readers
    // of the values above read.
    char padding[PG_CACHE_LINE_SIZE];
    pg_atomic_uint64 hits;
    pg_atomic_uint64 misses;
    pg_atomic_uint64 counts;
};

struct Shared {
    LWLock *lock;
    pg_atomic_uint64 hits;
    pg_atomic_uint64 misses;
    pg_atomic_uint64 counts;
    pg_atomic_uint64 live_counts;
    pg_atomic_uint64 count_us;
    pg_atomic_uint64 saved_us;
    pg_atomic_uint32 full_reported;
    TimestampTz reset_at;  // under lock
};

Shared *shared = nullptr;
HTAB *index = nullptr;

enum class OpKind { kPublish, kForget, kForgetDatabase };

struct PendingOp {
    OpKind kind;
    bool now;   // published under the key lock before commit (publish_now)
    int level;  // subtransaction nesting level that queued it
    Oid catalog;
    Entry entry;
    uint64 add_misses;
    uint64 add_counts;
};

using PendingOps = boost::container::vector<PendingOp, MemoryContextAllocator<PendingOp>>;
PendingOps *pending = nullptr;

PendingOps &pending_ops()
{
    if (pending == nullptr) {
        void *memory = MemoryContextAlloc(TopMemoryContext, sizeof(PendingOps));
        pending = new (memory) PendingOps(MemoryContextAllocator<PendingOp>(TopMemoryContext));
    }
    return *pending;
}

Tag tag_of(Oid database, const pg_uuid_t &key)
{
    Tag tag;
    memset(&tag, 0, sizeof(tag));
    tag.database = database;
    tag.key = key;
    return tag;
}

void copy_to_slot(Slot *slot, Oid catalog, const Entry &entry)
{
    slot->catalog = catalog;
    slot->has_count = entry.has_count;
    slot->count = entry.count;
    slot->counted_at = entry.counted_at;
    slot->count_ms = entry.count_ms;
    slot->has_expires_at = entry.has_expires_at;
    slot->expires_at = entry.expires_at;
    slot->registered = entry.registered;
    slot->has_next_refresh_at = entry.has_next_refresh_at;
    slot->next_refresh_at = entry.next_refresh_at;
    slot->mode = entry.mode;
    slot->is_estimate = entry.is_estimate;
}

// Caller holds the lock exclusively.
void apply(const PendingOp &op)
{
    switch (op.kind) {
    case OpKind::kPublish: {
        Tag tag = tag_of(MyDatabaseId, op.entry.key);
        bool found;
        auto *slot = static_cast<Slot *>(hash_search(index, &tag, HASH_ENTER_NULL, &found));
        if (slot == nullptr) {
            // Full: readers use the table for this entry. Said once per run.
            if (pg_atomic_exchange_u32(&shared->full_reported, 1) == 0)
                ereport(LOG, (errmsg("fast_count: the shared index is full (%d entries); "
                                     "further counts are served from the table",
                                     settings::max_entries),
                              errhint("Raise fast_count.max_entries.")));
            return;
        }
        if (!found) {
            pg_atomic_init_u64(&slot->hits, 0);
            pg_atomic_init_u64(&slot->misses, 0);
            pg_atomic_init_u64(&slot->counts, 0);
            copy_to_slot(slot, op.catalog, op.entry);
        } else if (slot->catalog == op.catalog && slot->has_count && op.entry.has_count &&
                   op.entry.counted_at < slot->counted_at) {
            // Counts are published before their writers commit, so an older
            // one can arrive last: the newer count stays, and a row
            // committed with an older count brings only what it registers.
            if (op.now)
                return;
            Entry merged = op.entry;
            merged.count = slot->count;
            merged.counted_at = slot->counted_at;
            merged.count_ms = slot->count_ms;
            merged.is_estimate = slot->is_estimate;
            merged.has_expires_at = slot->has_expires_at;
            merged.expires_at = slot->expires_at;
            copy_to_slot(slot, op.catalog, merged);
        } else {
            copy_to_slot(slot, op.catalog, op.entry);
        }
        pg_atomic_fetch_add_u64(&slot->misses, op.add_misses);
        pg_atomic_fetch_add_u64(&slot->counts, op.add_counts);
        break;
    }
    case OpKind::kForget: {
        Tag tag = tag_of(MyDatabaseId, op.entry.key);
        hash_search(index, &tag, HASH_REMOVE, nullptr);
        break;
    }
    case OpKind::kForgetDatabase: {
        HASH_SEQ_STATUS status;
        hash_seq_init(&status, index);
        Slot *slot;
        while ((slot = static_cast<Slot *>(hash_seq_search(&status))) != nullptr)
            if (slot->tag.database == MyDatabaseId)
                hash_search(index, &slot->tag, HASH_REMOVE, nullptr);
        break;
    }
    }
}

void queue(OpKind kind, Oid catalog, const Entry *entry, const pg_uuid_t *key)
{
    if (shared == nullptr)
        return;
    PendingOp op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    op.level = GetCurrentTransactionNestLevel();
    op.catalog = catalog;
    if (entry != nullptr) {
        op.entry = *entry;
        op.entry.query = nullptr;
        op.entry.params = nullptr;
        op.entry.settings = nullptr;
        op.entry.change_signature = nullptr;
    } else if (key != nullptr) {
        op.entry.key = *key;
    }
    pending_ops().push_back(op);
}

bool same_key(const pg_uuid_t &a, const pg_uuid_t &b)
{
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

} // namespace

Size shmem_size()
{
    return add_size(MAXALIGN(sizeof(Shared)), hash_estimate_size(settings::max_entries, sizeof(Slot)));
}

void shmem_startup()
{
    bool found;
    shared = static_cast<Shared *>(ShmemInitStruct("fast_count index state", sizeof(Shared), &found));
    if (!found) {
        shared->lock = &(GetNamedLWLockTranche("fast_count index"))->lock;
        pg_atomic_init_u64(&shared->hits, 0);
        pg_atomic_init_u64(&shared->misses, 0);
        pg_atomic_init_u64(&shared->counts, 0);
        pg_atomic_init_u64(&shared->live_counts, 0);
        pg_atomic_init_u64(&shared->count_us, 0);
        pg_atomic_init_u64(&shared->saved_us, 0);
        pg_atomic_init_u32(&shared->full_reported, 0);
        shared->reset_at = GetCurrentTimestamp();
    }
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(Tag);
    info.entrysize = sizeof(Slot);
    index = ShmemInitHash("fast_count index", settings::max_entries, settings::max_entries, &info,
                          HASH_ELEM | HASH_BLOBS);
}

bool usable()
{
    return shared != nullptr && !RecoveryInProgress();
}

bool find(Oid catalog, const pg_uuid_t &key, Entry *entry, const HitTest *hit_test)
{
    Tag tag = tag_of(MyDatabaseId, key);
    LWLockAcquire(shared->lock, LW_SHARED);
    auto *slot = static_cast<Slot *>(hash_search(index, &tag, HASH_FIND, nullptr));
    bool found = slot != nullptr && slot->catalog == catalog;
    if (hit_test != nullptr)
        *hit_test->hit = false;
    if (found) {
        memset(entry, 0, sizeof(*entry));
        entry->key = key;
        entry->has_count = slot->has_count;
        entry->count = slot->count;
        entry->counted_at = slot->counted_at;
        entry->count_ms = slot->count_ms;
        entry->has_expires_at = slot->has_expires_at;
        entry->expires_at = slot->expires_at;
        entry->registered = slot->registered;
        entry->has_next_refresh_at = slot->has_next_refresh_at;
        entry->next_refresh_at = slot->next_refresh_at;
        entry->mode = slot->mode;
        entry->is_estimate = slot->is_estimate;
        // A hit is counted under the lock taken for the look anyway.
        if (hit_test != nullptr && hit_test->is_hit(*entry, hit_test->arg)) {
            *hit_test->hit = true;
            pg_atomic_fetch_add_u64(&slot->hits, 1);
            pg_atomic_fetch_add_u64(&shared->hits, 1);
            pg_atomic_fetch_add_u64(&shared->saved_us, static_cast<uint64>(slot->count_ms * 1000.0));
        }
    }
    LWLockRelease(shared->lock);
    return found;
}

void publish_at_commit(Oid catalog, const Entry &entry)
{
    queue(OpKind::kPublish, catalog, &entry, nullptr);
}

void forget_at_commit(const pg_uuid_t &key)
{
    queue(OpKind::kForget, InvalidOid, nullptr, &key);
}

void forget_database_at_commit()
{
    queue(OpKind::kForgetDatabase, InvalidOid, nullptr, nullptr);
}

void publish_now(Oid catalog, const Entry &entry)
{
    if (!usable())
        return;
    PendingOp op;
    memset(&op, 0, sizeof(op));
    op.kind = OpKind::kPublish;
    op.now = true;
    op.catalog = catalog;
    op.entry = entry;
    op.entry.query = nullptr;
    op.entry.params = nullptr;
    op.entry.settings = nullptr;
    op.entry.change_signature = nullptr;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    apply(op);
    LWLockRelease(shared->lock);
}

template <typename Predicate>
void forget_slots_if(Predicate &&gone)
{
    if (shared == nullptr)
        return;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, index);
    Slot *slot;
    while ((slot = static_cast<Slot *>(hash_seq_search(&status))) != nullptr)
        if (gone(*slot))
            hash_search(index, &slot->tag, HASH_REMOVE, nullptr);
    LWLockRelease(shared->lock);
}

void forget_databases_except(List *databases)
{
    forget_slots_if([databases](const Slot &slot) {
        return !list_member_oid(databases, slot.tag.database);
    });
}

void forget_other_catalogs(Oid catalog)
{
    forget_slots_if([catalog](const Slot &slot) {
        return slot.tag.database == MyDatabaseId && slot.catalog != catalog;
    });
}

void forget_expired(TimestampTz now)
{
    if (shared == nullptr)
        return;
    auto expired = [now](const Slot &slot) {
        return slot.tag.database == MyDatabaseId && !slot.registered && slot.mode == modes::kPeriodic &&
               slot.has_expires_at && slot.expires_at <= now;
    };
    // Found under the shared lock, so that hits are not held up by the
    // scan; removed under the exclusive one only when there are any.
    constexpr int kBatch = 1024;
    Tag *tags = static_cast<Tag *>(palloc(sizeof(Tag) * kBatch));
    int found = 0;
    LWLockAcquire(shared->lock, LW_SHARED);
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, index);
    Slot *slot;
    while ((slot = static_cast<Slot *>(hash_seq_search(&status))) != nullptr) {
        if (!expired(*slot))
            continue;
        tags[found++] = slot->tag;
        if (found == kBatch) {
            hash_seq_term(&status);
            break;
        }
    }
    LWLockRelease(shared->lock);
    if (found > 0) {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        for (int i = 0; i < found; i++) {
            auto *still = static_cast<Slot *>(hash_search(index, &tags[i], HASH_FIND, nullptr));
            if (still != nullptr && expired(*still))
                hash_search(index, &tags[i], HASH_REMOVE, nullptr);
        }
        LWLockRelease(shared->lock);
    }
    pfree(tags);
}

void note(const pg_uuid_t &key, Event event, double ms)
{
    if (shared == nullptr)
        return;
    uint64 us = ms > 0 ? static_cast<uint64>(ms * 1000.0) : 0;
    switch (event) {
    case Event::kHit:
        pg_atomic_fetch_add_u64(&shared->hits, 1);
        pg_atomic_fetch_add_u64(&shared->saved_us, us);
        break;
    case Event::kMiss:
        pg_atomic_fetch_add_u64(&shared->misses, 1);
        break;
    case Event::kCount:
        pg_atomic_fetch_add_u64(&shared->counts, 1);
        pg_atomic_fetch_add_u64(&shared->count_us, us);
        break;
    case Event::kLiveCount:
        pg_atomic_fetch_add_u64(&shared->live_counts, 1);
        pg_atomic_fetch_add_u64(&shared->count_us, us);
        return;
    }

    // A count about to be published lands on the entry when it is.
    if (pending != nullptr && event != Event::kHit) {
        for (auto it = pending->rbegin(); it != pending->rend(); ++it) {
            if (it->kind == OpKind::kPublish && same_key(it->entry.key, key)) {
                if (event == Event::kMiss)
                    it->add_misses++;
                else
                    it->add_counts++;
                return;
            }
        }
    }
    Tag tag = tag_of(MyDatabaseId, key);
    LWLockAcquire(shared->lock, LW_SHARED);
    auto *slot = static_cast<Slot *>(hash_search(index, &tag, HASH_FIND, nullptr));
    if (slot != nullptr) {
        pg_atomic_uint64 *counter = event == Event::kHit    ? &slot->hits
                                    : event == Event::kMiss ? &slot->misses
                                                            : &slot->counts;
        pg_atomic_fetch_add_u64(counter, 1);
    }
    LWLockRelease(shared->lock);
}

Totals totals()
{
    Totals out{};
    if (shared == nullptr)
        return out;
    LWLockAcquire(shared->lock, LW_SHARED);
    out.hits = pg_atomic_read_u64(&shared->hits);
    out.misses = pg_atomic_read_u64(&shared->misses);
    out.counts = pg_atomic_read_u64(&shared->counts);
    out.live_counts = pg_atomic_read_u64(&shared->live_counts);
    out.count_ms = pg_atomic_read_u64(&shared->count_us) / 1000.0;
    out.saved_ms = pg_atomic_read_u64(&shared->saved_us) / 1000.0;
    out.entries = hash_get_num_entries(index);
    out.capacity = settings::max_entries;
    out.reset_at = shared->reset_at;
    LWLockRelease(shared->lock);
    return out;
}

void reset_counters()
{
    if (shared == nullptr)
        return;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    pg_atomic_write_u64(&shared->hits, 0);
    pg_atomic_write_u64(&shared->misses, 0);
    pg_atomic_write_u64(&shared->counts, 0);
    pg_atomic_write_u64(&shared->live_counts, 0);
    pg_atomic_write_u64(&shared->count_us, 0);
    pg_atomic_write_u64(&shared->saved_us, 0);
    shared->reset_at = GetCurrentTimestamp();
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, index);
    Slot *slot;
    while ((slot = static_cast<Slot *>(hash_seq_search(&status))) != nullptr) {
        pg_atomic_write_u64(&slot->hits, 0);
        pg_atomic_write_u64(&slot->misses, 0);
        pg_atomic_write_u64(&slot->counts, 0);
    }
    LWLockRelease(shared->lock);
}

int copy_counters(CounterRow *rows, int capacity)
{
    if (shared == nullptr)
        return 0;
    int copied = 0;
    LWLockAcquire(shared->lock, LW_SHARED);
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, index);
    Slot *slot;
    while ((slot = static_cast<Slot *>(hash_seq_search(&status))) != nullptr) {
        if (slot->tag.database != MyDatabaseId)
            continue;
        if (copied == capacity) {
            hash_seq_term(&status);
            break;
        }
        rows[copied].key = slot->tag.key;
        rows[copied].counters = {pg_atomic_read_u64(&slot->hits), pg_atomic_read_u64(&slot->misses),
                                 pg_atomic_read_u64(&slot->counts)};
        copied++;
    }
    LWLockRelease(shared->lock);
    return copied;
}

void at_transaction_end(bool committed)
{
    if (pending == nullptr || pending->empty())
        return;
    if (committed && shared != nullptr) {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        for (const PendingOp &op : *pending)
            apply(op);
        LWLockRelease(shared->lock);
    }
    pending->clear();
}

void at_prepare()
{
    // A prepared transaction commits later, in some other session that has
    // nothing to publish; until then readers go to the table for its keys.
    if (pending == nullptr || pending->empty())
        return;
    if (shared != nullptr) {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        for (PendingOp op : *pending) {
            if (op.kind == OpKind::kPublish)
                op.kind = OpKind::kForget;
            apply(op);
        }
        LWLockRelease(shared->lock);
    }
    pending->clear();
}

void at_subtransaction_end(bool committed, int level)
{
    if (pending == nullptr || pending->empty())
        return;
    if (committed) {
        for (PendingOp &op : *pending)
            if (op.level == level)
                op.level = level - 1;
        return;
    }
    auto first_gone = std::remove_if(pending->begin(), pending->end(),
                                     [level](const PendingOp &op) { return op.level >= level; });
    pending->erase(first_gone, pending->end());
}

} // namespace fast_count::shared_index
