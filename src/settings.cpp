#include "settings.hpp"

extern "C" {
#include "utils/guc.h"
}

#include <climits>

namespace fast_count::settings {

bool enabled = true;
int cache_larger_than = 1000000;
int cache_slower_than = 100;
int expire_after = 600;
int refresh_every = 600;
int max_stale = 300;
int naptime = 10;
int log_level = LOG;
char *databases = nullptr;

namespace {

const struct config_enum_entry log_level_options[] = {
    {"debug5", DEBUG5, false}, {"debug4", DEBUG4, false}, {"debug3", DEBUG3, false},
    {"debug2", DEBUG2, false}, {"debug1", DEBUG1, false}, {"debug", DEBUG2, true},
    {"info", INFO, false},     {"notice", NOTICE, false}, {"warning", WARNING, false},
    {"log", LOG, false},       {nullptr, 0, false},
};

} // namespace

void define_all()
{
    DefineCustomBoolVariable(
        "fast_count.enabled", "Serves and stores cached counts.",
        "When off, fast_count() counts live, stores nothing, and the worker pauses.", &enabled,
        true, PGC_USERSET, 0, nullptr, nullptr, nullptr);

    DefineCustomIntVariable(
        "fast_count.cache_larger_than",
        "Caches a counted result of at least this many rows.",
        "A miss always counts; its result is kept when it reaches this size or took longer than "
        "fast_count.cache_slower_than.",
        &cache_larger_than, 1000000, 0, INT_MAX, PGC_USERSET, 0, nullptr, nullptr, nullptr);

    DefineCustomIntVariable(
        "fast_count.cache_slower_than", "Caches a count that took longer than this.",
        "-1 disables caching by time.", &cache_slower_than, 100, -1, INT_MAX, PGC_USERSET,
        GUC_UNIT_MS, nullptr, nullptr, nullptr);

    DefineCustomIntVariable(
        "fast_count.expire_after", "How long a retroactively cached count is served.",
        "Applies when the count is stored; a reader with a shorter setting treats older "
        "counts as expired.",
        &expire_after, 600, 1, INT_MAX / 1000, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr,
        nullptr);

    DefineCustomIntVariable(
        "fast_count.refresh_every",
        "Default refresh interval of queries registered without one.", nullptr, &refresh_every,
        600, 1, INT_MAX / 1000, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);

    DefineCustomIntVariable(
        "fast_count.max_stale",
        "How long past its refresh time a registered count is still served.",
        "Within this bound readers get the last count at once while the worker refreshes; "
        "beyond it one reader counts and the others wait for that count.",
        &max_stale, 300, 0, INT_MAX / 1000, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);

    DefineCustomIntVariable(
        "fast_count.naptime", "Longest sleep of the background worker between checks.",
        "The worker wakes earlier when a refresh is due or a query is registered.", &naptime, 10,
        1, 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);

    DefineCustomEnumVariable(
        "fast_count.log_level", "Message level of the worker's reports of what it refreshed.",
        nullptr, &log_level, LOG, log_level_options, PGC_SUSET, 0, nullptr, nullptr, nullptr);

    DefineCustomStringVariable(
        "fast_count.databases",
        "Databases whose registered queries the preloaded worker refreshes.",
        "Comma-separated database names; empty means every database where the extension is "
        "installed.",
        &databases, "", PGC_SIGHUP, GUC_LIST_INPUT, nullptr, nullptr, nullptr);

    MarkGUCPrefixReserved("fast_count");
}

} // namespace fast_count::settings
