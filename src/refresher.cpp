#include "refresher.hpp"

#include "count_executor.hpp"
#include "exact_mode.hpp"
#include "key_lock.hpp"
#include "settings.hpp"
#include "worker_control.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/syscache.h"
}

namespace fast_count::refresher {

namespace {

using cache_store::Entry;

int64 seconds(int value)
{
    return static_cast<int64>(value) * USECS_PER_SEC;
}

// Whether a reader may be served this entry now.
bool usable(const Entry &entry, TimestampTz now)
{
    if (!entry.has_count)
        return false;
    if (entry.registered)
        return entry.has_next_refresh_at &&
               now < entry.next_refresh_at + seconds(settings::max_stale);
    return entry.has_expires_at && now < entry.expires_at &&
           now < entry.counted_at + seconds(settings::expire_after);
}

bool worth_keeping(const CountRun &run)
{
    return run.count >= settings::cache_larger_than ||
           (settings::cache_slower_than >= 0 && run.milliseconds >= settings::cache_slower_than);
}

int64 count_live(const QueryIdentity *identity, const char *why)
{
    elog(DEBUG1, "fast_count: counting live: %s", why);
    return run_count(identity).count;
}

bool same_key(const pg_uuid_t &a, const pg_uuid_t &b)
{
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

} // namespace

bool cache_writable()
{
    return !RecoveryInProgress() && !XactReadOnly;
}

void check_permissions(const QueryIdentity *identity)
{
    (void) ExecCheckRTPerms(identity->permission_rtes, true);
}

int64 count_for_reader(const QueryIdentity *identity)
{
    if (!settings::enabled)
        return count_live(identity, "fast_count.enabled is off");
    if (identity->uncacheable != nullptr)
        return count_live(identity, identity->uncacheable);

    check_permissions(identity);

    Entry entry;
    TimestampTz now = GetCurrentTimestamp();
    bool found = cache_store::lookup(identity->key, &entry);
    if (found && entry.exact)  // exact mode: never a cached count
        return exact_mode::read_count(identity, entry);
    if (found && usable(entry, now)) {
        if (entry.registered && now >= entry.next_refresh_at)
            worker_control::ensure_worker_running();
        return entry.count;
    }
    if (!cache_writable())
        return count_live(identity, "the cache cannot be written in this transaction");

    if (!key_lock::try_lock(identity->key)) {
        // Waiting while holding another key could deadlock with a reader
        // doing the same in the other order; count without caching instead.
        if (key_lock::holding_any())
            return count_live(identity, "another count of this query is running");
        key_lock::lock(identity->key);
    }
    // Someone may have stored a count between our look and the lock.
    found = cache_store::lookup(identity->key, &entry);
    if (found && usable(entry, GetCurrentTimestamp()))
        return entry.count;

    CountRun run = run_count(identity);
    if ((found && entry.registered) || worth_keeping(run))
        cache_store::store_count(identity, run);
    else if (found)
        cache_store::remove(identity->key);
    return run.count;
}

int64 refresh(const QueryIdentity *identity)
{
    check_permissions(identity);

    Entry before;
    bool had_count = cache_store::lookup(identity->key, &before) && before.has_count;
    if (!key_lock::try_lock(identity->key)) {
        key_lock::lock(identity->key);
        Entry after;
        if (cache_store::lookup(identity->key, &after) && after.has_count &&
            (!had_count || after.counted_at > before.counted_at))
            return after.count;
    }
    CountRun run = run_count(identity);
    cache_store::store_count(identity, run);
    return run.count;
}

WorkerResult refresh_registered(const pg_uuid_t &key)
{
    WorkerResult result{Outcome::kGone, 0, 0.0, nullptr};
    Entry entry;
    if (!cache_store::lookup(key, &entry, true) || !entry.registered)
        return result;
    result.query = entry.query;
    TimestampTz now = GetCurrentTimestamp();
    if (entry.has_next_refresh_at && entry.next_refresh_at > now) {
        result.outcome = Outcome::kNotDue;
        return result;
    }
    if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(entry.owner)))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("the role that registered this query (OID %u) no longer exists",
                               entry.owner)));

    // Read and count the query as its owner did; the transaction's end
    // restores the user and the settings, also after an error.
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(entry.owner, saved_context | SECURITY_LOCAL_USERID_CHANGE);
    int guc_level = NewGUCNestLevel();
    apply_reading_settings(entry.settings);

    QueryIdentity *identity = derive_identity(entry.query, entry.params);
    if (identity->uncacheable != nullptr)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("the registered query can no longer be cached: %s",
                               identity->uncacheable)));

    if (!key_lock::try_lock(key)) {
        result.outcome = Outcome::kBusy;
    } else if (!same_key(identity->key, key)) {
        // The text now reads other relations (a table was recreated, or the
        // database was restored): the registration follows the text.
        if (!key_lock::try_lock(identity->key)) {
            result.outcome = Outcome::kBusy;
        } else {
            ereport(settings::log_level,
                    (errmsg("fast_count: registered query now reads other relations; moving "
                            "it from key %s to %s",
                            key_to_cstring(key), key_to_cstring(identity->key))));
            cache_store::register_query(identity, entry.refresh_every_us, entry.owner,
                                        entry.settings, entry.registered_at);
            cache_store::remove(key);
            CountRun run = run_count(identity);
            cache_store::store_count(identity, run);
            result = {Outcome::kRefreshed, run.count, run.milliseconds, entry.query};
        }
    } else if (cache_store::lookup(key, &entry) && entry.registered &&
               (!entry.has_next_refresh_at || entry.next_refresh_at <= GetCurrentTimestamp())) {
        CountRun run = run_count(identity);
        cache_store::store_count(identity, run);
        result = {Outcome::kRefreshed, run.count, run.milliseconds, result.query};
    } else {
        result.outcome = entry.registered ? Outcome::kNotDue : Outcome::kGone;
    }

    AtEOXact_GUC(true, guc_level);
    SetUserIdAndSecContext(saved_user, saved_context);
    return result;
}

} // namespace fast_count::refresher
