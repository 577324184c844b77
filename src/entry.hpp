// One cached count or registration, as read from fast_count.entries (or
// from its mirror in the shared-memory index).
#pragma once

extern "C" {
#include "postgres.h"

#include "utils/array.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

namespace fast_count {

struct Entry {
    pg_uuid_t key;
    bool has_count;
    int64 count;
    TimestampTz counted_at;
    double count_ms;  // how long the last count took
    bool has_expires_at;
    TimestampTz expires_at;
    bool registered;
    int64 refresh_every_us;
    bool has_next_refresh_at;
    TimestampTz next_refresh_at;
    TimestampTz registered_at;
    Oid owner;
    int32 failures;
    uint8 mode;        // modes::kPeriodic, or the mode that keeps it (mode_registry.hpp)
    bool is_estimate;  // the count is the planner's estimate
    TimestampTz checked_at;  // last time the count was found to still hold
    // Only filled when read with text (never in shared memory):
    char *query;
    ArrayType *params;  // nullptr when none
    ArrayType *settings;
    bytea *change_signature;  // nullptr when none
};

} // namespace fast_count
