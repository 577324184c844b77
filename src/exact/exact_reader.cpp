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
#include "exact/exact_store.hpp"
#include "worker_control.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
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

bool read_established(const QueryIdentity *identity, const Entry &entry, int64 *count)
{
    (void) entry;
    Snapshot snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
    int64 mirrored;
    if (exact_fastpath::read(identity->key, snapshot, &mirrored)) {
        *count = mirrored + exact_deltas::pending(identity->key);
        return true;
    }
    exact_store::Sum seen = exact_store::sum(identity->key, snapshot);
    if (seen.rows > kFoldSoonRows)
        request_fold();
    if (seen.base_rows > 0 && seen.epochs_agree) {
        // A base that nobody deleted is the current one: every fold and
        // every reset deletes the base it replaces. Otherwise look up the
        // current one.
        int64 epoch;
        if (seen.bases_current ||
            (exact_store::latest_epoch(identity->key, &epoch) && epoch == seen.epoch)) {
            exact_fastpath::note_table_read(identity->key, snapshot, seen.sum);
            *count = seen.sum + exact_deltas::pending(identity->key);
            return true;
        }
    }
    return false;
}

int64 read_count(const QueryIdentity *identity, const Entry &entry)
{
    int64 count;
    if (read_established(identity, entry, &count))
        return count;
    Snapshot snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
    elog(DEBUG1, "fast_count: counting live: the exact count is not established for this snapshot");
    // Read the text again, under the locks the count needs: the identity
    // may come from a memo of an earlier transaction.
    return count_under(derive_identity(identity->query_text, identity->params), snapshot);
}

} // namespace fast_count::exact_internal
