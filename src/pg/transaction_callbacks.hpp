// The one place that hears PostgreSQL's transaction, subtransaction and
// relcache callbacks and passes them on to the modules that registered, in
// the order they registered (from _PG_init: the core first, then each
// mode). PostgreSQL runs these at COMMIT, PREPARE and ABORT, where an ERROR
// is a PANIC: each module's callback runs behind its own no_throw(), so
// that one module's failure is a WARNING and the next module still runs,
// and the callbacks themselves must neither allocate nor raise. Relcache
// callbacks only mark or forget what they cache; they are called directly.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace fast_count::transaction_callbacks {

enum class End { kCommit, kPrepare, kAbort };

// Just before COMMIT or PREPARE, still inside the transaction: may write,
// and an error aborts the transaction as any other would.
using BeforeCommit = void (*)();

// The top transaction ends (COMMIT also for a parallel worker's).
using TransactionEnd = void (*)(End end);
// The subtransaction at nesting level `level` commits or aborts (level is
// the one ending: GetCurrentTransactionNestLevel() while it ends).
using SubtransactionEnd = void (*)(bool committed, int level);
// A relation's cache entry was invalidated (InvalidOid: all of them).
using RelationChanged = void (*)(Oid relid);

// Registration, from _PG_init only (a fixed table: nothing is allocated
// when a transaction ends).
void before_commit(BeforeCommit callback);
void on_transaction_end(TransactionEnd callback);
void on_subtransaction_end(SubtransactionEnd callback);
void on_relation_changed(RelationChanged callback);

// Registers the dispatcher itself with PostgreSQL; once, from _PG_init,
// after the modules.
void install();

} // namespace fast_count::transaction_callbacks
