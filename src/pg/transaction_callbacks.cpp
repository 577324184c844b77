#include "pg/transaction_callbacks.hpp"

#include "pg/pg_boundary.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/inval.h"
}

namespace fast_count::transaction_callbacks {

namespace {

// More than the modules need; registering one more is a programming error
// that _PG_init reports at once.
constexpr int kMaxCallbacks = 16;

template <typename Callback>
struct Table {
    Callback callbacks[kMaxCallbacks];
    int count = 0;

    void add(Callback callback)
    {
        if (count == kMaxCallbacks)
            elog(ERROR, "fast_count: too many transaction callbacks");
        callbacks[count++] = callback;
    }
};

Table<BeforeCommit> before_commit_table;
Table<TransactionEnd> transaction_end;
Table<SubtransactionEnd> subtransaction_end;
Table<RelationChanged> relation_changed;
bool installed = false;

void on_xact(XactEvent event, void *)
{
    End end;
    const char *where;
    switch (event) {
    case XACT_EVENT_PRE_COMMIT:
    case XACT_EVENT_PRE_PREPARE:
        for (int i = 0; i < before_commit_table.count; i++) {
            BeforeCommit callback = before_commit_table.callbacks[i];
            (void) cpp_entry([callback] {
                callback();
                return static_cast<Datum>(0);
            });
        }
        return;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
        end = End::kCommit;
        where = "at commit";
        break;
    case XACT_EVENT_PREPARE:
        end = End::kPrepare;
        where = "at prepare";
        break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
        end = End::kAbort;
        where = "at abort";
        break;
    default:
        return;
    }
    for (int i = 0; i < transaction_end.count; i++) {
        TransactionEnd callback = transaction_end.callbacks[i];
        no_throw(where, [callback, end] { callback(end); });
    }
}

void on_subxact(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
        return;
    bool committed = event == SUBXACT_EVENT_COMMIT_SUB;
    int level = GetCurrentTransactionNestLevel();
    for (int i = 0; i < subtransaction_end.count; i++) {
        SubtransactionEnd callback = subtransaction_end.callbacks[i];
        no_throw("at subtransaction end", [callback, committed, level] { callback(committed, level); });
    }
}

void on_relcache(Datum, Oid relid)
{
    for (int i = 0; i < relation_changed.count; i++) {
        relation_changed.callbacks[i](relid);
    }
}

} // namespace

void before_commit(BeforeCommit callback)
{
    before_commit_table.add(callback);
}

void on_transaction_end(TransactionEnd callback)
{
    transaction_end.add(callback);
}

void on_subtransaction_end(SubtransactionEnd callback)
{
    subtransaction_end.add(callback);
}

void on_relation_changed(RelationChanged callback)
{
    relation_changed.add(callback);
}

void install()
{
    if (installed)
        return;
    RegisterXactCallback(on_xact, nullptr);
    RegisterSubXactCallback(on_subxact, nullptr);
    CacheRegisterRelcacheCallback(on_relcache, 0);
    installed = true;
}

} // namespace fast_count::transaction_callbacks
