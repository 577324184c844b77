// Shared memory of a preloaded fast_count: which databases the launcher
// should leave alone because they do not have the extension.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace fast_count::shared_state {

// Installs the shmem hooks; only from _PG_init of a preloaded library.
void install_hooks();

// Shared memory of a mode: its size, its LWLock tranches (requested in
// the request hook) and its initialisation (in the startup hook, under
// AddinShmemInitLock). Registered from _PG_init.
struct ShmemUser {
    Size (*size)();
    void (*request)();
    void (*startup)();
};
void add_user(const ShmemUser &user);

// Whether shared memory is there (the library was preloaded).
bool available();

// The launcher skips a database marked as not having the extension until
// CREATE EXTENSION clears the mark.
void mark_without_extension(Oid database, bool without);
bool is_without_extension(Oid database);

} // namespace fast_count::shared_state
