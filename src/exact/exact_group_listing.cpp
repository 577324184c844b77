// fast_count_groups(query text, params text[], group_by text[]) returns
// table(key text[], count bigint): every non-empty group of a grouped exact
// registration, exact under the caller's snapshot, from the delta rows.
#include "exact/exact_groups.hpp"
#include "exact/exact_reader.hpp"
#include "exact/exact_registration.hpp"
#include "exact/exact_store.hpp"
#include "pg/pg_boundary.hpp"
#include "query_identity.hpp"
#include "refresher.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

using namespace fast_count;

namespace {

// The grouped registration of identity's text: by group_by, or the one
// there is; raises when there is none or (without group_by) several.
exact_store::ExactEntry find_registration(QueryIdentity *identity, ArrayType *group_by)
{
    exact_store::ExactEntry entry{};
    if (group_by != nullptr) {
        pg_uuid_t plain = identity->key;
        if (exact_mode::grouped_key(identity, group_by) && exact_store::lookup(identity->key, &entry) &&
            entry.exact && entry.group_by != nullptr)
            return entry;
        identity->key = plain;
    } else if (list_length(identity->relids) == 1) {
        Oid table = linitial_oid(identity->relids);
        int found = 0;
        ListCell *lc;
        foreach (lc, exact_store::exact_entries(table)) {
            auto *candidate = static_cast<exact_store::ExactEntry *>(lfirst(lc));
            exact_groups::Columns columns;
            if (candidate->group_by == nullptr ||
                !exact_groups::find_columns_of(table, candidate->group_by, &columns))
                continue;
            pg_uuid_t key = exact_groups::registration_key(identity->key, columns);
            if (memcmp(key.data, candidate->key.data, UUID_LEN) != 0)
                continue;
            entry = *candidate;
            found++;
        }
        if (found > 1)
            ereport(ERROR, (errcode(ERRCODE_AMBIGUOUS_PARAMETER),
                            errmsg("the query is registered with several group_by lists"),
                            errhint("Name the group columns: fast_count_groups(query, group_by => "
                                    "ARRAY[...]).")));
        if (found == 1) {
            identity->key = entry.key;
            return entry;
        }
    }
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("the query is not registered with group_by"),
                    errhint("Register it with fast_count_register(query, mode => 'exact', "
                            "group_by => ARRAY['column', ...]).")));
    pg_unreachable();
}

void require_column_privileges(Oid table, ArrayType *group_by)
{
    if (pg_class_aclcheck(table, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
        return;
    Datum *names;
    bool *nulls;
    int n;
    deconstruct_array(group_by, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &n);
    for (int i = 0; i < n; i++) {
        const char *name = nulls[i] ? "" : TextDatumGetCString(names[i]);
        AttrNumber attnum = get_attnum(table, name);
        if (attnum == InvalidAttrNumber ||
            pg_attribute_aclcheck(table, attnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
            aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(table));
    }
}

} // namespace

FAST_COUNT_FUNCTION(fast_count_groups)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("query must not be NULL")));
    const char *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
    ArrayType *params = PG_ARGISNULL(1) ? nullptr : PG_GETARG_ARRAYTYPE_P(1);
    ArrayType *group_by = exact_mode::group_by_argument(fcinfo, 2);
    if (!exact_store::available() || !exact_store::groups_available())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("grouped exact counts need version 0.4.0 of extension \"fast_count\""),
                        errhint("Run ALTER EXTENSION fast_count UPDATE.")));

    QueryIdentity *identity = derive_identity(query, params);
    // Nothing is revealed about relations the caller cannot read.
    refresher::check_permissions(identity);
    exact_store::ExactEntry entry = find_registration(identity, group_by);
    // The groups' values are the group columns' values: the caller may
    // read them (the query's own columns were checked above).
    require_column_privileges(entry.table, entry.group_by);
    List *groups = exact_internal::read_groups(identity, entry.key, entry.group_by, entry.table);

    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    exact_groups::GroupText text = exact_groups::group_text(entry.table, entry.group_by);
    ListCell *lc;
    foreach (lc, groups) {
        auto *group = static_cast<exact_store::GroupSum *>(lfirst(lc));
        Datum values[2];
        bool nulls[2] = {false, false};
        values[0] = PointerGetDatum(exact_groups::group_as_text(text, group->group));
        values[1] = Int64GetDatum(group->sum);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return static_cast<Datum>(0);
}
