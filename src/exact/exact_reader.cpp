// Exact mode: which queries qualify, registration, and reading a count.
//
// Reading (read_count): the count under the caller's snapshot S is the sum
// of the key's delta rows S sees, plus this transaction's pending changes.
// That sum is a count only when S sees a base row, and only when that base
// is of the current epoch: a TRUNCATE, ALTER TABLE or re-count that S does
// not see (TRUNCATE and rewriting ALTERs are not MVCC-safe) starts a new
// epoch. Otherwise the query is counted live, under S: never a wrong number.
#include "exact/exact_reader.hpp"

#include "count_executor.hpp"
#include "exact/exact_deltas.hpp"
#include "exact/exact_fastpath.hpp"
#include "exact/exact_groups.hpp"
#include "exact/exact_store.hpp"
#include "shared_index.hpp"
#include "worker_control.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace fast_count::exact_internal {

namespace {

// A reader that sums more rows than this asks the worker to fold now.
constexpr int64 kFoldSoonRows = 500;
TimestampTz last_fold_request = 0;

void request_fold()
{
    TimestampTz now = GetCurrentTimestamp();
    if (now < last_fold_request + USECS_PER_SEC)
        return;
    last_fold_request = now;
    int pid = worker_control::find_worker(MyDatabaseId);
    if (pid == 0)
        return;
    PGPROC *proc = BackendPidGetProc(pid);
    if (proc != nullptr)
        SetLatch(&proc->procLatch);
}

} // namespace

namespace {

// Whether what snapshot sees of key's rows starts from the current base.
bool based_currently(const pg_uuid_t &key, const exact_store::Sum &seen)
{
    if (seen.base_rows == 0 || !seen.epochs_agree)
        return false;
    // A base that nobody deleted is the current one: every fold and every
    // reset deletes the base it replaces. Otherwise look up the current one.
    int64 epoch;
    return seen.bases_current || (exact_store::latest_epoch(key, &epoch) && epoch == seen.epoch);
}

const ServedBy *served_by(const QueryIdentity *identity, const pg_uuid_t &key)
{
    ListCell *lc;
    foreach (lc, identity->served_by) {
        const auto *served = static_cast<const ServedBy *>(lfirst(lc));
        if (memcmp(served->key.data, key.data, UUID_LEN) == 0)
            return served;
    }
    return nullptr;
}

} // namespace

bool read_established(const QueryIdentity *identity, const Entry &entry, int64 *count)
{
    Snapshot snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
    // This transaction's changes are summed, not read under snapshot.
    if (!exact_deltas::pending_seen_by(snapshot))
        return false;
    const ServedBy *groups = served_by(identity, entry.key);
    if (groups == nullptr) {
        int64 mirrored;
        if (exact_fastpath::read(identity->key, snapshot, &mirrored)) {
            *count = mirrored + exact_deltas::pending(identity->key);
            return true;
        }
        exact_store::Sum seen = exact_store::sum(identity->key, snapshot);
        if (seen.rows > kFoldSoonRows)
            request_fold();
        if (!based_currently(identity->key, seen))
            return false;
        exact_fastpath::note_table_read(identity->key, snapshot, seen.sum);
        *count = seen.sum + exact_deltas::pending(identity->key);
        return true;
    }
    // A grouped registration: its own rows are its bases (of 0: its
    // groups' rows hold the counts); the row set's count is the sum of the
    // groups it names. A group's mirror is valid only while the base it was
    // started from is current (a new one invalidates it).
    int64 total = 0;
    bool mirrored = true;
    for (int i = 0; i < groups->parts && mirrored; i++) {
        int64 sum;
        mirrored = exact_fastpath::read(groups->part[i], snapshot, &sum);
        total += sum + exact_deltas::pending(groups->part[i], &entry.key);
    }
    if (mirrored) {
        *count = total;
        return true;
    }
    exact_store::Sum epoch = exact_store::sum(entry.key, snapshot);
    if (!based_currently(entry.key, epoch))
        return false;
    total = 0;
    int64 rows = 0;
    for (int i = 0; i < groups->parts; i++) {
        exact_store::Sum seen = exact_store::sum(groups->part[i], snapshot);
        rows += seen.rows;
        total += seen.sum + exact_deltas::pending(groups->part[i], &entry.key);
        exact_fastpath::note_table_read(groups->part[i], snapshot, seen.sum, &entry.key);
    }
    if (rows > kFoldSoonRows)
        request_fold();
    *count = total;
    return true;
}

List *read_groups(const QueryIdentity *identity, const pg_uuid_t &key, ArrayType *group_by,
                  Oid table)
{
    Snapshot snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
    exact_store::Sum epoch = exact_store::sum(key, snapshot);
    // A query that can no longer be kept (row-level security enabled since,
    // say) is counted as the caller, with what the caller may see.
    if (identity->uncacheable == nullptr && exact_deltas::pending_seen_by(snapshot) &&
        based_currently(key, epoch)) {
        // What the snapshot sees, and this transaction's own changes.
        List *seen = exact_store::group_sums(key, snapshot);
        HTAB *sums = exact_store::new_group_sums("fast_count groups read", list_length(seen));
        exact_store::add_group_sums(sums, seen, 1);
        exact_store::add_group_sums(sums, exact_deltas::pending_groups(key), 1);
        return exact_store::nonzero_group_sums(sums);
    } else {
        elog(DEBUG1, "fast_count: counting groups live: the exact counts are not established "
                     "for this snapshot");
        QueryIdentity *live = derive_identity(identity->query_text, identity->params);
        exact_groups::Columns columns;
        if (!exact_groups::find_columns_of(table, group_by, &columns))
            elog(ERROR, "fast_count: the group columns of table \"%s\" changed",
                 get_rel_name(table));
        live->key = key;
        return exact_groups::count_groups(live, columns, snapshot);  // counted: none is 0
    }
}

int64 read_count(const QueryIdentity *identity, const Entry &entry)
{
    int64 count;
    if (read_established(identity, entry, &count)) {
        shared_index::note(entry.key, shared_index::Event::kHit, entry.count_ms);
        return count;
    }
    Snapshot snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
    elog(DEBUG1, "fast_count: counting live: the exact count is not established for this snapshot");
    // Read the text again, under the locks the count needs: the identity
    // may come from a memo of an earlier transaction.
    return count_under(derive_identity(identity->query_text, identity->params), snapshot);
}

} // namespace fast_count::exact_internal
