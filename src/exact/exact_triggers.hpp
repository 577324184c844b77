// Exact mode's write path: the C trigger functions (fast_count_exact_row_
// trigger, fast_count_exact_truncate_trigger) and the per-backend state of
// compiled predicates they keep.
#pragma once

#include "pg/transaction_callbacks.hpp"

extern "C" {
#include "postgres.h"
}

namespace fast_count::exact_internal {

// Compiles predicate for a row of table, the way the row trigger does
// (raises the error a broken predicate would raise there).
void check_predicate(const char *predicate, Oid table);

// Transaction end: trigger states retired during the transaction are freed.
void triggers_at_transaction_end(transaction_callbacks::End end);

// A relcache invalidation: the predicates compiled for the relation (all,
// for InvalidOid) are compiled again before their next use.
void triggers_relation_changed(Oid relid);

} // namespace fast_count::exact_internal
