// PostgreSQL 15 declares tree walker callbacks as unprototyped C function
// pointers, which C++ reads as "takes no arguments"; these shims restore the
// real signatures in one place.
#pragma once

extern "C" {
#include "postgres.h"

#include "nodes/nodeFuncs.h"
}

namespace fast_count {

using WalkerFn = bool (*)(Node *node, void *context);
using MutatorFn = Node *(*)(Node *node, void *context);

// void (*)() is the one function pointer type GCC lets any other pass
// through without -Wcast-function-type.
template <typename To, typename From>
To function_cast(From fn)
{
    return reinterpret_cast<To>(reinterpret_cast<void (*)()>(fn));
}

inline bool walk_expression(Node *node, WalkerFn walker, void *context)
{
    return expression_tree_walker(node, function_cast<bool (*)()>(walker), context);
}

inline bool walk_query(Query *query, WalkerFn walker, void *context, int flags)
{
    return query_tree_walker(query, function_cast<bool (*)()>(walker), context, flags);
}

inline Node *mutate_expression(Node *node, MutatorFn mutator, void *context)
{
    return expression_tree_mutator(node, function_cast<Node *(*)()>(mutator), context);
}

inline Query *mutate_query(Query *query, MutatorFn mutator, void *context, int flags)
{
    return query_tree_mutator(query, function_cast<Node *(*)()>(mutator), context, flags);
}

} // namespace fast_count
