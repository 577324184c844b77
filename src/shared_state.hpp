// Shared memory of a preloaded fast_count: which databases the launcher
// should leave alone because they do not have the extension.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace fast_count::shared_state {

// Installs the shmem hooks; only from _PG_init of a preloaded library.
void install_hooks();

// Whether shared memory is there (the library was preloaded).
bool available();

// The launcher skips a database marked as not having the extension until
// CREATE EXTENSION clears the mark.
void mark_without_extension(Oid database, bool without);
bool is_without_extension(Oid database);

} // namespace fast_count::shared_state
