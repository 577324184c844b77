// The SQL-callable functions. Each reads its arguments, checks what SQL
// users must be told about (NULLs, read-only transactions, privileges) and
// hands over to the query identity and refresher layers.
//
// None of these functions pins search_path: the query text must be read
// exactly as the caller would run it. Our own catalog access never goes
// through name lookup in the caller's path (see cache_store.cpp).
#include "cache_store.hpp"
#include "catalog.hpp"
#include "entry_visibility.hpp"
#include "exact/exact_ddl.hpp"
#include "exact/exact_registration.hpp"
#include "key_lock.hpp"
#include "mode_registry.hpp"
#include "pg/event_trigger_reads.hpp"
#include "pg/pg_boundary.hpp"
#include "pg/restricted_scope.hpp"
#include "query_identity.hpp"
#include "refresher.hpp"
#include "settings.hpp"
#include "shared_index.hpp"
#include "worker_control.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"
}

namespace fast_count {

namespace {

const char *query_argument(FunctionCallInfo fcinfo, int n)
{
    if (PG_ARGISNULL(n))
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("query must not be null")));
    return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

ArrayType *params_argument(FunctionCallInfo fcinfo, int n)
{
    if (PG_NARGS() <= n || PG_ARGISNULL(n))
        return nullptr;
    return PG_GETARG_ARRAYTYPE_P_COPY(n);
}

void require_writable(const char *action)
{
    if (refresher::cache_writable())
        return;
    ereport(ERROR,
            (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
             errmsg("cannot %s in a read-only transaction", action),
             RecoveryInProgress()
                 ? errhint("This server is a standby; do it on the primary, and the result "
                           "is replicated here.")
                 : 0));
}

void require_cacheable(const QueryIdentity *identity, const char *action)
{
    if (identity->uncacheable == nullptr)
        return;
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("cannot %s: %s", action, identity->uncacheable),
                    errhint("fast_count() counts such a query live on every call.")));
}

// Registrations over a relation belong to its owner too: whoever owns a
// table a query reads (or a superuser) can change, take over, refresh or
// remove any registration of it, so that no other role can freeze its
// counts. Asked only after the caller proved it may read the relations, so
// the registering role's name reveals nothing the view does not show.
void require_manager(const cache_store::Entry &entry, List *relids)
{
    if (entry_visibility::may_manage(entry.owner, relids))
        return;
    const char *name = GetUserNameFromId(entry.owner, true);
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("query is registered by role \"%s\"",
                           name != nullptr ? name : "(dropped role)"),
                    errdetail("Only members of that role, owners of a relation the query reads "
                              "and superusers can change, refresh or remove the registration.")));
}

// The refresh interval a registration asks for: at least 1 second, at most
// fast_count.max_refresh_every (a longer one would freeze the count for
// every reader).
int64 refresh_interval_argument(FunctionCallInfo fcinfo, int n)
{
    bool by_default = PG_ARGISNULL(n);
    int64 usecs = by_default ? static_cast<int64>(settings::refresh_every) * USECS_PER_SEC
                             : cache_store::interval_to_usecs(PG_GETARG_INTERVAL_P(n));
    if (usecs < USECS_PER_SEC)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("refresh interval must be at least 1 second")));
    if (usecs > static_cast<int64>(settings::max_refresh_every) * USECS_PER_SEC)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("refresh interval must be at most fast_count.max_refresh_every (%s)",
                        GetConfigOptionByName("fast_count.max_refresh_every", nullptr, false)),
                 by_default ? errdetail("The interval is fast_count.refresh_every (%s).",
                                        GetConfigOptionByName("fast_count.refresh_every", nullptr, false))
                            : 0,
                 errhint("fast_count.max_refresh_every, set by the administrator, bounds how "
                         "old a registered count can get.")));
    return usecs;
}

// Reads the query, or returns nullptr (and the error in *error) when it no
// longer reads: a registration can be removed after its table is gone.
QueryIdentity *try_derive_identity(const char *query, ArrayType *params, ErrorData **error)
{
    QueryIdentity *identity = nullptr;
    *error = restricted::try_subtransaction(
        true, [&](MemoryContext keep) {
            QueryIdentity *read = derive_identity(query, params);
            MemoryContext scratch = MemoryContextSwitchTo(keep);
            identity = copy_identity(read);
            MemoryContextSwitchTo(scratch);
        });
    return identity;
}

} // namespace

} // namespace fast_count

using namespace fast_count;

// fast_count(query text [, params text[]]) returns bigint
FAST_COUNT_FUNCTION(fast_count_query)
{
    const char *query = query_argument(fcinfo, 0);
    PG_RETURN_INT64(refresher::count_for_reader(query, params_argument(fcinfo, 1)));
}

// fast_count_estimate(query text, params text[]) returns bigint
FAST_COUNT_FUNCTION(fast_count_estimate)
{
    const char *query = query_argument(fcinfo, 0);
    QueryIdentity *identity = derive_identity(query, params_argument(fcinfo, 1));
    refresher::check_permissions(identity);
    PG_RETURN_INT64(estimate_count(identity).count);
}

// fast_count_stats() returns record: totals since the last reset.
FAST_COUNT_FUNCTION(fast_count_stats)
{
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");
    shared_index::Totals totals = shared_index::totals();
    bool preloaded = shared_index::usable() || RecoveryInProgress();
    Datum values[9];
    bool nulls[9] = {false};
    values[0] = Int64GetDatum(static_cast<int64>(totals.hits));
    values[1] = Int64GetDatum(static_cast<int64>(totals.misses));
    values[2] = Int64GetDatum(static_cast<int64>(totals.counts));
    values[3] = Int64GetDatum(static_cast<int64>(totals.live_counts));
    values[4] = DirectFunctionCall1(float8_numeric, Float8GetDatum(totals.count_ms));
    values[5] = DirectFunctionCall1(float8_numeric, Float8GetDatum(totals.saved_ms));
    values[6] = Int64GetDatum(static_cast<int64>(totals.entries));
    values[7] = Int64GetDatum(static_cast<int64>(totals.capacity));
    values[8] = TimestampTzGetDatum(totals.reset_at);
    if (!preloaded)
        for (bool &null : nulls)
            null = true;
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

// fast_count_stats_reset() returns void
FAST_COUNT_FUNCTION(fast_count_stats_reset)
{
    shared_index::reset_counters();
    PG_RETURN_VOID();
}

// Statement trigger on fast_count.entries: a hand-made change (not ours, which
// fire no triggers) makes this database's shared index start over.
FAST_COUNT_FUNCTION(fast_count_entries_edited)
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("function can only be called as a trigger")));
    shared_index::forget_database_at_commit();
    return PointerGetDatum(nullptr);
}

// fast_count_register(query text, refresh_every interval, params text[], mode text,
//                     group_by text[]) returns uuid
FAST_COUNT_FUNCTION(fast_count_register)
{
    const char *query = query_argument(fcinfo, 0);
    int64 refresh_every_us = refresh_interval_argument(fcinfo, 1);
    ArrayType *params = params_argument(fcinfo, 2);
    exact_mode::Mode mode = exact_mode::mode_argument(fcinfo, 3);
    ArrayType *group_by = exact_mode::group_by_argument(fcinfo, 4);
    if (group_by != nullptr && mode != exact_mode::Mode::kExact)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("group_by needs mode => 'exact'"),
                        errdetail("Only exact mode keeps a count per group.")));
    require_writable("register a query");

    QueryIdentity *identity = derive_identity(query, params);
    // Before anything that depends on the relations (row-level security,
    // exact-mode eligibility, an existing registration).
    refresher::check_permissions(identity);
    exact_mode::Eligibility exact{InvalidOid, nullptr};
    if (mode == exact_mode::Mode::kExact)
        exact = exact_mode::check_eligible(identity);
    if (group_by != nullptr)
        exact_mode::make_grouped(identity, &exact, group_by);
    require_cacheable(identity, "register this query");

    key_lock::lock(identity->key);
    cache_store::Entry entry;
    if (cache_store::lookup(identity->key, &entry) && entry.registered)
        require_manager(entry, identity->relids);
    // Registering again makes it the caller's: refreshed as the caller,
    // with the caller's settings.
    cache_store::register_query(identity, refresh_every_us, GetUserId(),
                                capture_reading_settings(), GetCurrentTimestamp());
    exact_mode::apply(identity, mode, exact);
    worker_control::worker_needed_at_commit();

    auto *key = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    *key = identity->key;
    PG_RETURN_UUID_P(key);
}

// fast_count_unregister(query text, params text[], group_by text[]) returns boolean
FAST_COUNT_FUNCTION(fast_count_unregister)
{
    const char *query = query_argument(fcinfo, 0);
    ArrayType *params = params_argument(fcinfo, 1);
    ArrayType *group_by = exact_mode::group_by_argument(fcinfo, 2);
    require_writable("unregister a query");

    // The registration this text reads as now (another spelling of the same
    // query), which the caller must be able to read, as for anything else...
    ErrorData *error = nullptr;
    QueryIdentity *identity = try_derive_identity(query, params, &error);
    if (identity != nullptr && group_by != nullptr && !exact_mode::grouped_key(identity, group_by))
        identity = nullptr;  // not columns of its table: only registrations by text
    List *keys = NIL;
    if (identity != nullptr) {
        // The registering role may remove its registration after losing
        // SELECT; it learns nothing it did not know.
        cache_store::Entry own;
        if (!ExecCheckRTPerms(identity->permission_rtes, false) &&
            !(cache_store::lookup(identity->key, &own) && own.registered &&
              has_privs_of_role(GetUserId(), own.owner)))
            refresher::check_permissions(identity);
        auto *key = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
        *key = identity->key;
        keys = lappend(keys, key);
    }
    // ...plus registrations under this exact text (whose relations may be
    // gone, or other ones under another search_path), but only those the
    // caller registered or may see: the others do not exist for it, so a
    // guessed text answers the same whether or not someone registered it.
    List *by_text = cache_store::keys_registered_as(query, params);
    ListCell *lc;
    foreach (lc, by_text) {
        const pg_uuid_t &key = *static_cast<pg_uuid_t *>(lfirst(lc));
        if (identity != nullptr && memcmp(key.data, identity->key.data, UUID_LEN) == 0)
            continue;
        // The grouped registrations of a text with group_by, the others without.
        if (!exact_mode::registered_with_groups(key, group_by))
            continue;
        cache_store::Entry entry;
        if (!cache_store::lookup(key, &entry))
            continue;
        List *relids, *tables;
        cache_store::relations_of(key, &relids, &tables);
        if (has_privs_of_role(GetUserId(), entry.owner) ||
            entry_visibility::may_see(relids, tables))
            keys = lappend(keys, lfirst(lc));
    }
    if (identity == nullptr && keys == NIL && error != nullptr)
        ReThrowError(error);

    bool removed = false;
    foreach (lc, keys) {
        const pg_uuid_t &key = *static_cast<pg_uuid_t *>(lfirst(lc));
        key_lock::lock(key);
        cache_store::Entry entry;
        if (!cache_store::lookup(key, &entry) || !entry.registered)
            continue;
        List *relids, *tables;
        cache_store::relations_of(key, &relids, &tables);
        require_manager(entry, relids);
        modes::forget(entry);  // exact mode: its triggers and delta rows
        removed |= cache_store::remove(key);
    }
    if (!removed)
        ereport(NOTICE, (errmsg("query is not registered")));
    PG_RETURN_BOOL(removed);
}

// fast_count_refresh(query text, params text[]) returns bigint
FAST_COUNT_FUNCTION(fast_count_refresh)
{
    const char *query = query_argument(fcinfo, 0);
    ArrayType *params = params_argument(fcinfo, 1);
    require_writable("refresh a cached count");
    QueryIdentity *identity = derive_identity(query, params);
    refresher::check_permissions(identity);
    require_cacheable(identity, "cache the count of this query");
    // A registered query is refreshed by those who may manage it: anyone
    // else who can read the tables gets a count from fast_count().
    cache_store::Entry entry;
    if (cache_store::lookup(identity->key, &entry) && entry.registered)
        require_manager(entry, identity->relids);
    PG_RETURN_INT64(refresher::refresh(identity));
}

// Event trigger on sql_drop: counts over dropped relations are forgotten.
FAST_COUNT_FUNCTION(fast_count_on_sql_drop)
{
    event_trigger_reads::require_event_trigger(fcinfo);

    Oid entries = catalog::entries_oid(true);
    if (!OidIsValid(entries))
        PG_RETURN_NULL();

    List *relids = event_trigger_reads::oids(
        "SELECT objid FROM pg_catalog.pg_event_trigger_dropped_objects() "
        "WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND objsubid = 0",
        "the dropped objects");
    bool drops_our_catalog = list_member_oid(relids, entries);

    if (!drops_our_catalog) {
        cache_store::forget_relations(relids);
        exact_mode::relations_dropped(relids);
    }
    PG_RETURN_NULL();
}

// Called by the install script: a preloaded launcher serves this database.
FAST_COUNT_FUNCTION(fast_count_on_install)
{
    worker_control::extension_installed();
    PG_RETURN_VOID();
}
