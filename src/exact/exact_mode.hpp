// Exact mode: counts of single-table queries kept exact by row triggers
// (docs/exact-mode.md). The core knows it only through what init()
// registers: its reader and worker task (mode_registry.hpp) and its
// transaction callbacks. The SQL surface calls exact_registration.hpp and
// exact_ddl.hpp directly.
#pragma once

namespace fast_count::exact_mode {

// From _PG_init.
void init();

} // namespace fast_count::exact_mode
