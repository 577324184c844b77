// Transparent mode (fast_count.transparent): a planner hook that wraps the
// plan of a plain count statement (transparent_match.hpp) in a CustomScan
// "FastCount". When it runs, the node derives the count's identity from
// the statement's tree with the parameters bound at that moment, answers
// from the cache when the setting allows (refresher::serve_transparent),
// and otherwise runs the original plan, its child. The executor checks the
// statement's privileges as for the plain statement, hit or miss.
#pragma once

namespace fast_count::transparent {

// From _PG_init: the planner hook (chained) and the CustomScan methods.
void init();

} // namespace fast_count::transparent
