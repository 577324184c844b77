// Transparent mode, recognising the statement: which plain count statements
// fast_count may answer, and the row set each one counts.
#pragma once

extern "C" {
#include "postgres.h"

#include "nodes/parsenodes.h"
}

namespace fast_count::transparent {

// Whether the statement could be a count at all; costs a few field reads,
// so that other statements pay nothing more.
inline bool may_be_count(const Query *parse)
{
    return parse->hasAggs && parse->commandType == CMD_SELECT && parse->utilityStmt == nullptr;
}

// The row set a count statement counts, as a copy of the statement's own
// (rewritten) tree: for `SELECT count(*) FROM (<q>) alias`, <q>; for
// `SELECT count(*) FROM ... [WHERE ...]`, the statement without its target
// list. nullptr when the statement is not one of these shapes (or reads
// anything fast_count() refuses outright).
Query *counted_row_set(const Query *parse);

} // namespace fast_count::transparent
