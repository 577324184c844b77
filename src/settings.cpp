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
int max_entries = 10000;
int force_recount_after = 3600;
int memo_size = 1000;
bool estimate_on_miss = false;
bool exact_shared_reads = true;
int max_refresh_every = 86400;
int max_age = 0;
int transparent = 1;

namespace {

const struct config_enum_entry log_level_options[] = {
    {"debug5", DEBUG5, false}, {"debug4", DEBUG4, false}, {"debug3", DEBUG3, false},
    {"debug2", DEBUG2, false}, {"debug1", DEBUG1, false}, {"debug", DEBUG2, true},
    {"info", INFO, false},     {"notice", NOTICE, false}, {"warning", WARNING, false},
    {"log", LOG, false},       {nullptr, 0, false},
};

const struct config_enum_entry transparent_options[] = {
    {"off", 0, false}, {"exact", 1, false}, {"registered", 2, false}, {"all", 3, false},
    {nullptr, 0, false},
};

} // namespace

void define_all(bool preloading)
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

    // Shared memory is sized at server start, so only a preloaded library
    // may define this one (like pg_stat_statements.max).
    if (preloading)
        DefineCustomIntVariable(
            "fast_count.max_entries", "Cached counts the shared-memory index can hold.",
            "Counts beyond it are served from the catalog table, more slowly.", &max_entries,
            10000, 100, INT_MAX / 1024, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);

    DefineCustomIntVariable(
        "fast_count.force_recount_after",
        "Longest the worker keeps a registered count without counting it again.",
        "While the statistics say its tables did not change, the worker does not count a "
        "registered query, but it does count once the last count is this old. 0 counts at "
        "every refresh; -1 trusts the statistics forever.",
        &force_recount_after, 3600, -1, INT_MAX / 1000, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
        nullptr);

    DefineCustomIntVariable(
        "fast_count.memo_size", "Query texts whose analysis each backend remembers.",
        "Repeated calls with a remembered text skip parse and analysis; when full, the memo "
        "starts over. 0 turns it off.",
        &memo_size, 1000, 0, 1000000, PGC_USERSET, 0, nullptr, nullptr, nullptr);

    DefineCustomBoolVariable(
        "fast_count.estimate_on_miss",
        "Answers a cold miss with the planner's estimate instead of waiting for a count.",
        "The entry is marked as an estimate until the background worker has counted it.",
        &estimate_on_miss, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);

    // Only this session's reads: off, they sum the delta rows (slower,
    // just as exact). Writers keep the shared-memory mirror either way.
    DefineCustomBoolVariable(
        "fast_count.exact_shared_reads",
        "Answers exact counts from shared memory when it can, without reading the delta rows.",
        "Needs the library in shared_preload_libraries; not used on a standby.",
        &exact_shared_reads, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);

    // Server-wide, so that no role can register a query whose count then
    // stays frozen for everyone else (PGC_SIGHUP: only the administrator
    // sets it).
    DefineCustomIntVariable(
        "fast_count.max_refresh_every", "Longest refresh interval a registration may have.",
        "Registering with a longer interval is refused; a registration made with a longer one "
        "(before the setting was lowered) is refreshed at this interval.",
        &max_refresh_every, 86400, 1, INT_MAX / 1000, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
        nullptr);

    // The reader's own bound, whoever registered or cached the count.
    DefineCustomIntVariable(
        "fast_count.max_age", "Oldest cached count this session is served.",
        "A cached count taken longer ago than this is a miss for this session, whoever "
        "registered the query: it counts again. 0 sets no bound.",
        &max_age, 0, 0, INT_MAX / 1000, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);

    DefineCustomEnumVariable(
        "fast_count.transparent", "Which plain SELECT count(*) statements the cache answers.",
        "off: none; exact: those an exact-mode registration answers (the same number); "
        "registered: also registered counts within their bounds; all: also retroactive "
        "counts, and a miss is kept as fast_count() keeps it.",
        &transparent, 1, transparent_options, PGC_USERSET, 0, nullptr, nullptr, nullptr);

    MarkGUCPrefixReserved("fast_count");
}

} // namespace fast_count::settings
