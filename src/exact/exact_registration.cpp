// Exact mode's registration: which queries qualify (one table, a WHERE
// clause the row trigger can evaluate, the TRIGGER privilege), making an
// entry exact or periodic, and forgetting an exact entry.
#include "exact/exact_registration.hpp"

#include "exact/exact_ddl.hpp"
#include "exact/exact_groups.hpp"
#include "exact/exact_store.hpp"
#include "exact/exact_triggers.hpp"
#include "pg/pg_boundary.hpp"

extern "C" {
#include "access/sysattr.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace fast_count::exact_internal {

namespace {

bool why_not(const char **why, const char *reason)
{
    *why = reason;
    return false;
}

} // namespace

bool eligible(const QueryIdentity *identity, exact_mode::Eligibility *out, const char **why)
{
    if (identity->uncacheable != nullptr)
        return why_not(why, identity->uncacheable);
    if (list_length(identity->relids) != 1)
        return why_not(why, "the query does not read exactly one table");
    Oid table = linitial_oid(identity->relids);
    char relkind = get_rel_relkind(table);
    if (relkind == RELKIND_VIEW)
        return why_not(why, "the query reads a view");
    if (relkind == RELKIND_MATVIEW)
        return why_not(why, "the query reads a materialized view");
    if (relkind == RELKIND_FOREIGN_TABLE)
        return why_not(why, "the query reads a foreign table");
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
        return why_not(why, "the query does not read a table");
    char persistence = get_rel_persistence(table);
    if (persistence == RELPERSISTENCE_TEMP)
        return why_not(why, "the query reads a temporary table");
    if (persistence == RELPERSISTENCE_UNLOGGED)
        return why_not(why, "the query reads an unlogged table (a crash empties it without "
                            "firing triggers)");

    Query *query = linitial_node(RangeTblEntry, identity->count_query->rtable)->subquery;
    if (query->setOperations != nullptr)
        return why_not(why, "the query uses UNION, INTERSECT or EXCEPT");
    if (query->cteList != NIL)
        return why_not(why, "the query uses WITH");
    if (query->hasAggs || query->groupClause != NIL || query->groupingSets != NIL ||
        query->havingQual != nullptr)
        return why_not(why, "the query aggregates (aggregate functions, GROUP BY or HAVING)");
    if (query->hasWindowFuncs)
        return why_not(why, "the query uses window functions");
    if (query->distinctClause != NIL)
        return why_not(why, "the query uses DISTINCT");
    if (query->limitCount != nullptr || query->limitOffset != nullptr)
        return why_not(why, "the query uses LIMIT, OFFSET or FETCH");
    if (query->hasTargetSRFs)
        return why_not(why, "the query calls a set-returning function in its select list");
    if (query->hasSubLinks)
        return why_not(why, "the query uses a subquery");
    if (list_length(query->rtable) != 1 || list_length(query->jointree->fromlist) != 1 ||
        !IsA(linitial(query->jointree->fromlist), RangeTblRef))
        return why_not(why, "the query joins or reads more than one relation");
    RangeTblEntry *rte = linitial_node(RangeTblEntry, query->rtable);
    if (rte->rtekind != RTE_RELATION || rte->relid != table)
        return why_not(why, "the query does not read a table directly");
    if (rte->tablesample != nullptr)
        return why_not(why, "the query uses TABLESAMPLE");
    if (get_rel_relkind(table) == RELKIND_PARTITIONED_TABLE && !rte->inh)
        return why_not(why, "the query reads ONLY a partitioned table");
    if (rte->inh && relkind == RELKIND_RELATION && has_subclass(table))
        return why_not(why, "the table has inheritance children (partitions are fine)");
    if (relkind == RELKIND_PARTITIONED_TABLE) {
        ListCell *lc;
        foreach (lc, find_all_inheritors(table, NoLock, nullptr)) {
            Oid partition = lfirst_oid(lc);
            if (get_rel_relkind(partition) == RELKIND_FOREIGN_TABLE)
                return why_not(why, "a partition is a foreign table (its rows change elsewhere)");
            if (get_rel_persistence(partition) != RELPERSISTENCE_PERMANENT)
                return why_not(why, "a partition is unlogged (a crash empties it without firing "
                                    "triggers)");
        }
    }

    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(table));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "cache lookup failed for relation %u", table);
    bool rls = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relrowsecurity;
    ReleaseSysCache(tuple);
    if (rls)
        return why_not(why, "the table has row-level security");

    Node *quals = query->jointree->quals;
    if (quals != nullptr) {
        if (contain_mutable_functions(quals))
            return why_not(why, "the WHERE clause calls a function or operator that is not "
                                "immutable");
        Bitmapset *attnos = nullptr;
        pull_varattnos(quals, 1, &attnos);
        int member = -1;
        while ((member = bms_next_member(attnos, member)) >= 0)
            if (member + FirstLowInvalidHeapAttributeNumber <= 0)
                return why_not(why, "the WHERE clause reads a system column or the whole row");
    }
    out->table = table;
    out->predicate = quals != nullptr ? nodeToString(quals) : nullptr;
    return true;
}

} // namespace fast_count::exact_internal

namespace fast_count::exact_mode {

using namespace exact_internal;
using exact_store::Change;
using exact_store::State;

Mode mode_argument(FunctionCallInfo fcinfo, int argno)
{
    if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
        return Mode::kPeriodic;
    char *mode = text_to_cstring(PG_GETARG_TEXT_PP(argno));
    if (strcmp(mode, "periodic") == 0)
        return Mode::kPeriodic;
    if (strcmp(mode, "exact") == 0)
        return Mode::kExact;
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("invalid mode \"%s\"", mode),
                    errhint("The mode is 'periodic' or 'exact'.")));
    pg_unreachable();
}

ArrayType *group_by_argument(FunctionCallInfo fcinfo, int argno)
{
    if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
        return nullptr;
    return PG_GETARG_ARRAYTYPE_P(argno);
}

void make_grouped(QueryIdentity *identity, Eligibility *eligibility, ArrayType *group_by)
{
    if (!exact_store::groups_available())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("grouped exact counts need version 0.4.0 of extension \"fast_count\""),
                        errhint("Run ALTER EXTENSION fast_count UPDATE.")));
    exact_groups::Columns columns = exact_groups::check_columns(eligibility->table, group_by);
    identity->key = exact_groups::registration_key(identity->key, columns);
    eligibility->group_by = group_by;
}

bool grouped_key(QueryIdentity *identity, ArrayType *group_by)
{
    if (list_length(identity->relids) != 1)
        return false;
    exact_groups::Columns columns;
    if (!exact_groups::find_columns_of(linitial_oid(identity->relids), group_by, &columns))
        return false;
    identity->key = exact_groups::registration_key(identity->key, columns);
    return true;
}

bool registered_with_groups(const pg_uuid_t &key, ArrayType *group_by)
{
    exact_store::ExactEntry entry;
    bool grouped = exact_store::available() && exact_store::lookup(key, &entry) && entry.exact &&
                   entry.group_by != nullptr;
    if (!grouped || group_by == nullptr)
        return grouped == (group_by != nullptr);
    Datum *a, *b;
    bool *a_nulls, *b_nulls;
    int na, nb;
    deconstruct_array(entry.group_by, TEXTOID, -1, false, TYPALIGN_INT, &a, &a_nulls, &na);
    deconstruct_array(group_by, TEXTOID, -1, false, TYPALIGN_INT, &b, &b_nulls, &nb);
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (a_nulls[i] || b_nulls[i] ||
            strcmp(TextDatumGetCString(a[i]), TextDatumGetCString(b[i])) != 0)
            return false;
    return true;
}

Eligibility check_eligible(const QueryIdentity *identity)
{
    Eligibility eligibility{InvalidOid, nullptr};
    const char *why = nullptr;
    if (!eligible(identity, &eligibility, &why))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("this query cannot be counted in exact mode"),
                 errdetail("Exact mode counts single-table queries whose WHERE clause uses only "
                           "immutable expressions over the row, but %s.",
                           why),
                 identity->uncacheable == nullptr
                     ? errhint("Register it with mode => 'periodic': the worker re-counts it "
                               "every refresh_every.")
                     : errhint("Such a query cannot be cached in either mode: fast_count() "
                               "counts it live on every call.")));
    if (!exact_store::available())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("exact mode needs version 0.2.0 of extension \"fast_count\""),
                        errhint("Run ALTER EXTENSION fast_count UPDATE.")));
    AclResult acl = pg_class_aclcheck(eligibility.table, GetUserId(), ACL_TRIGGER);
    if (acl != ACLCHECK_OK)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied to keep an exact count of table \"%s\"",
                               get_rel_name(eligibility.table)),
                        errdetail("Exact mode creates a trigger on the table, which needs the "
                                  "TRIGGER privilege on it."),
                        errhint("Register it with mode => 'periodic', or have the table's owner "
                                "register it.")));
    // A predicate that cannot be compiled fails here, not in every write.
    check_predicate(eligibility.predicate, eligibility.table);
    return eligibility;
}

void apply(const QueryIdentity *identity, Mode mode, const Eligibility &eligibility)
{
    exact_store::ExactEntry before;
    bool found = exact_store::available() && exact_store::lookup(identity->key, &before);
    if (mode == Mode::kPeriodic) {
        if (!found || !before.exact)
            return;
        // Exact back to periodic: the triggers and delta rows go.
        exact_store::remove_all(identity->key);
        exact_store::update(identity->key, Change().to_mode("periodic")
                                                 .to_state(State::kNone)
                                                 .to_predicate(nullptr));
        if (OidIsValid(before.table)) {
            drop_triggers_if_unused(before.table);
            if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(before.table)))
                CacheInvalidateRelcacheByRelid(before.table);
        }
        return;
    }

    if (found && before.exact && before.table == eligibility.table) {
        // Registered again: the count it keeps stays (an entry waiting to
        // be re-derived is retried now).
        if (before.state == exact_store::State::kRederive) {
            exact_store::update(identity->key, Change().clearing_error());
        }
        return;
    }

    // Writers must not be in flight while the set of exact queries of the
    // table changes: they would not count the new one. Creating the trigger
    // takes this lock on the table and each partition; when the trigger is
    // already there, take it here. Writers wait for it until this
    // transaction ends: registration does not count the table (the worker
    // does, later, without blocking anyone).
    lock_table_and_partitions(eligibility.table, ShareRowExclusiveLock);
    ensure_triggers(eligibility.table, eligibility.predicate, eligibility.group_by != nullptr);

    exact_store::remove_all(identity->key);
    exact_store::update(identity->key, Change().to_mode("exact")
                                             .to_state(State::kBackfill)
                                             .to_predicate(eligibility.predicate)
                                             .to_group_by(eligibility.group_by)
                                             .clearing_error());
    CacheInvalidateRelcacheByRelid(eligibility.table);
}

void forget(const pg_uuid_t &key)
{
    exact_store::ExactEntry entry;
    if (!exact_store::available() || !exact_store::lookup(key, &entry) || !entry.exact)
        return;
    exact_store::remove_all(key);
    // The entry goes after this; mark it periodic first so that the
    // trigger check below does not count it.
    exact_store::update(key, Change().to_mode("periodic").to_state(State::kNone));
    if (OidIsValid(entry.table) && SearchSysCacheExists1(RELOID, ObjectIdGetDatum(entry.table))) {
        drop_triggers_if_unused(entry.table);
        CacheInvalidateRelcacheByRelid(entry.table);
    }
}

} // namespace fast_count::exact_mode
