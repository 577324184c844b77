#include "mode_registry.hpp"

namespace fast_count::modes {

namespace {

constexpr int kMaxModes = 4;

Mode registered[kMaxModes];
int count = 0;

const Mode &mode_of(const Entry &entry)
{
    if (entry.mode == kPeriodic || entry.mode > count)
        elog(ERROR, "fast_count: entry of unknown mode %d", entry.mode);
    return registered[entry.mode - 1];
}

} // namespace

void add(const Mode &mode)
{
    if (count == kMaxModes)
        elog(ERROR, "fast_count: too many modes");
    registered[count++] = mode;
}

uint8 id_of(const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp(registered[i].name, name) == 0)
            return static_cast<uint8>(i + 1);
    return kPeriodic;
}

int64 read_count(const QueryIdentity *identity, const Entry &entry)
{
    return mode_of(entry).read_count(identity, entry);
}

bool read_without_counting(const QueryIdentity *identity, const Entry &entry, int64 *count)
{
    return mode_of(entry).read_without_counting(identity, entry, count);
}

const char *name_of(const Entry &entry)
{
    return entry.mode == kPeriodic ? "periodic" : mode_of(entry).name;
}

void forget(const Entry &entry)
{
    if (entry.mode != kPeriodic)
        mode_of(entry).forget(entry.key);
}

void describe(QueryIdentity *identity, Query *row_set)
{
    for (int i = 0; i < count; i++)
        if (registered[i].describe != nullptr)
            registered[i].describe(identity, row_set);
}

TimestampTz run_worker_tasks(TimestampTz next_wake)
{
    for (int i = 0; i < count; i++)
        next_wake = registered[i].run_worker_tasks(next_wake);
    return next_wake;
}

} // namespace fast_count::modes
