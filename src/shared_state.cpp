#include "shared_state.hpp"

#include "shared_index.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace fast_count::shared_state {

namespace {

// Databases beyond this many are simply probed again by the launcher.
constexpr int kMaxDatabases = 1024;

struct State {
    LWLock *lock;
    int count;
    Oid without_extension[kMaxDatabases];
};

State *state = nullptr;
// Modes' own shared memory (registered from _PG_init, before the hooks run).
constexpr int kMaxUsers = 4;
ShmemUser users[kMaxUsers];
int user_count = 0;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

void request_shmem()
{
    if (previous_request_hook)
        previous_request_hook();
    Size size = add_size(MAXALIGN(sizeof(State)), shared_index::shmem_size());
    for (int i = 0; i < user_count; i++) {
        size = add_size(size, users[i].size());
        users[i].request();
    }
    RequestAddinShmemSpace(size);
    RequestNamedLWLockTranche("fast_count", 1);
    RequestNamedLWLockTranche("fast_count index", 1);
}

void startup_shmem()
{
    if (previous_startup_hook)
        previous_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    state = static_cast<State *>(ShmemInitStruct("fast_count", sizeof(State), &found));
    if (!found) {
        state->lock = &(GetNamedLWLockTranche("fast_count"))->lock;
        state->count = 0;
    }
    shared_index::shmem_startup();
    for (int i = 0; i < user_count; i++)
        users[i].startup();
    LWLockRelease(AddinShmemInitLock);
}

} // namespace

void install_hooks()
{
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
}

void add_user(const ShmemUser &user)
{
    if (user_count < kMaxUsers)
        users[user_count++] = user;
}

bool available()
{
    return state != nullptr;
}

void mark_without_extension(Oid database, bool without)
{
    if (state == nullptr)
        return;
    LWLockAcquire(state->lock, LW_EXCLUSIVE);
    int found = -1;
    for (int i = 0; i < state->count; i++)
        if (state->without_extension[i] == database)
            found = i;
    if (without && found < 0 && state->count < kMaxDatabases)
        state->without_extension[state->count++] = database;
    else if (!without && found >= 0)
        state->without_extension[found] = state->without_extension[--state->count];
    LWLockRelease(state->lock);
}

bool is_without_extension(Oid database)
{
    if (state == nullptr)
        return false;
    LWLockAcquire(state->lock, LW_SHARED);
    bool without = false;
    for (int i = 0; i < state->count && !without; i++)
        without = state->without_extension[i] == database;
    LWLockRelease(state->lock);
    return without;
}

} // namespace fast_count::shared_state
