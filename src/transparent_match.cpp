#include "transparent_match.hpp"

#include "pg/node_walk.hpp"

extern "C" {
#include "catalog/pg_aggregate.h"
#include "nodes/nodeFuncs.h"
#include "utils/fmgroids.h"
}

#include <cstring>

namespace fast_count::transparent {

namespace {

// count(*), or count(c) of a constant that is not NULL: both count rows.
bool counts_rows(const Expr *expr)
{
    if (!IsA(expr, Aggref))
        return false;
    const Aggref *agg = castNode(Aggref, const_cast<Expr *>(expr));
    if (agg->aggfilter != nullptr || agg->aggorder != NIL || agg->aggdistinct != NIL ||
        agg->aggdirectargs != NIL || agg->agglevelsup != 0 || agg->aggkind != AGGKIND_NORMAL)
        return false;
    if (agg->aggfnoid == F_COUNT_)
        return agg->aggstar;
    if (agg->aggfnoid != F_COUNT_ANY || list_length(agg->args) != 1)
        return false;
    const Expr *arg = linitial_node(TargetEntry, agg->args)->expr;
    return IsA(arg, Const) && !castNode(Const, const_cast<Expr *>(arg))->constisnull;
}

// What fast_count() would refuse with an error, anywhere in the tree:
// locking clauses and anything but SELECT.
bool refused(Node *node, void *context)
{
    if (node == nullptr)
        return false;
    if (IsA(node, Query)) {
        Query *query = castNode(Query, node);
        if (query->commandType != CMD_SELECT || query->hasModifyingCTE ||
            query->rowMarks != NIL || query->hasForUpdate || query->utilityStmt != nullptr)
            return true;
        return walk_query(query, refused, context, 0);
    }
    return walk_expression(node, refused, context);
}

bool one_count_target(const Query *parse)
{
    if (list_length(parse->targetList) != 1)
        return false;
    const TargetEntry *target = linitial_node(TargetEntry, parse->targetList);
    return !target->resjunk && counts_rows(target->expr);
}

} // namespace

Query *counted_row_set(const Query *parse)
{
    if (!may_be_count(parse) || parse->hasWindowFuncs || parse->hasTargetSRFs ||
        parse->groupClause != NIL || parse->groupingSets != NIL || parse->havingQual != nullptr ||
        parse->distinctClause != NIL || parse->sortClause != NIL ||
        parse->limitCount != nullptr || parse->limitOffset != nullptr ||
        parse->setOperations != nullptr || parse->rtable == NIL || !one_count_target(parse))
        return nullptr;
    if (refused(reinterpret_cast<Node *>(const_cast<Query *>(parse)), nullptr))
        return nullptr;

    const FromExpr *from = parse->jointree;
    if (list_length(parse->rtable) == 1 && from != nullptr && from->quals == nullptr &&
        list_length(from->fromlist) == 1 && IsA(linitial(from->fromlist), RangeTblRef) &&
        parse->cteList == NIL) {
        const RangeTblEntry *rte = linitial_node(RangeTblEntry, parse->rtable);
        if (rte->rtekind == RTE_SUBQUERY && !rte->lateral) {
            // fast_count's own counts are spelled so; they are never
            // intercepted (they are the answer, or the worker's work).
            if (rte->alias != nullptr && strcmp(rte->alias->aliasname, "fast_count_q") == 0)
                return nullptr;
            return static_cast<Query *>(copyObjectImpl(rte->subquery));
        }
    }
    Query *row_set = static_cast<Query *>(copyObjectImpl(parse));
    row_set->targetList = NIL;
    row_set->hasAggs = false;
    return row_set;
}

} // namespace fast_count::transparent
