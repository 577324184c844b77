#include "exact/exact_groups.hpp"

#include "count_executor.hpp"
#include "exact/exact_store.hpp"
#include "pg/node_walk.hpp"

extern "C" {
#include "access/nbtree.h"
#include "executor/executor.h"
#include "optimizer/planner.h"
#include "tcop/tcopprot.h"
#include "utils/hsearch.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "access/transam.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"
}

namespace fast_count::exact_groups {

namespace {

// --- names and keys ------------------------------------------------------------

pg_uuid_t digest_key(const char *label, const pg_uuid_t &base, const void *data, size_t size)
{
    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    if (pg_cryptohash_init(ctx) < 0 ||
        pg_cryptohash_update(ctx, reinterpret_cast<const uint8 *>(label), strlen(label)) < 0 ||
        pg_cryptohash_update(ctx, base.data, UUID_LEN) < 0 ||
        pg_cryptohash_update(ctx, static_cast<const uint8 *>(data), size) < 0 ||
        pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
        elog(ERROR, "could not compute SHA-256 of a group: %s", pg_cryptohash_error(ctx));
    pg_cryptohash_free(ctx);
    pg_uuid_t key;
    memcpy(key.data, digest, UUID_LEN);
    return key;
}

// The names in a group_by array (no NULLs: checked at registration).
List *column_names(ArrayType *group_by)
{
    Datum *items;
    bool *nulls;
    int n;
    deconstruct_array(group_by, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
    List *names = NIL;
    for (int i = 0; i < n; i++)
        names = lappend(names, nulls[i] ? nullptr : TextDatumGetCString(items[i]));
    return names;
}

// Built-in types whose equal values can differ in their bytes, each with
// the one form its equality keeps (no user code: these are PostgreSQL's own):
// float 0 and -0, and every NaN, are equal; numeric 1.0 and 1.00 are.
bool has_canonical_form(Oid type)
{
    return type == FLOAT4OID || type == FLOAT8OID || type == NUMERICOID;
}

Datum canonical(Oid type, Datum value)
{
    switch (type) {
    case FLOAT4OID: {
        float4 v = DatumGetFloat4(value);
        return Float4GetDatum(isnan(v) ? get_float4_nan() : v == 0 ? 0.0f : v);
    }
    case FLOAT8OID: {
        float8 v = DatumGetFloat8(value);
        return Float8GetDatum(isnan(v) ? get_float8_nan() : v == 0 ? 0.0 : v);
    }
    case NUMERICOID:
        // The least scale that keeps the value: equal numerics, one form
        // (NaN and the infinities are kept as they are).
        return DirectFunctionCall1(numeric_trim_scale, value);
    default:
        return value;
    }
}

void append_value(StringInfo out, Datum value, bool isnull, int16 typlen, bool typbyval, Oid type)
{
    if (isnull) {
        appendStringInfoChar(out, 0);
        return;
    }
    appendStringInfoChar(out, 1);
    value = canonical(type, value);
    if (typbyval) {
        char bytes[sizeof(Datum)];
        store_att_byval(bytes, value, typlen);
        appendBinaryStringInfo(out, bytes, typlen);
    } else if (typlen > 0) {
        appendBinaryStringInfo(out, DatumGetPointer(value), typlen);
    } else {
        const char *data;
        int32 size;
        if (typlen == -1) {
            // Detoasted and uncompressed: equal values have equal bytes
            // only as their images, not as stored.
            struct varlena *flat = PG_DETOAST_DATUM_PACKED(value);
            data = VARDATA_ANY(flat);
            size = static_cast<int32>(VARSIZE_ANY_EXHDR(flat));
        } else {
            data = DatumGetCString(value);
            size = static_cast<int32>(strlen(data));
        }
        appendBinaryStringInfo(out, reinterpret_cast<const char *>(&size), sizeof(size));
        appendBinaryStringInfo(out, data, size);
    }
}

bytea *to_bytea(const StringInfoData &buf)
{
    auto *result = static_cast<bytea *>(palloc(VARHDRSZ + buf.len));
    SET_VARSIZE(result, VARHDRSZ + buf.len);
    memcpy(VARDATA(result), buf.data, buf.len);
    return result;
}

// --- the grouped registrations of a table (per backend) --------------------------

struct TableGroups {
    Oid table;
    List *sets;  // Columns *: each grouped registration's columns (duplicates merged)
};

MemoryContext groups_context = nullptr;
List *tables = NIL;  // TableGroups *

bool same_columns(const Columns &a, const Columns &b)
{
    if (a.count != b.count)
        return false;
    for (int i = 0; i < a.count; i++)
        if (a.attnum[i] != b.attnum[i])
            return false;
    return true;
}

const TableGroups *groups_of(Oid table)
{
    ListCell *lc;
    foreach (lc, tables) {
        auto *groups = static_cast<TableGroups *>(lfirst(lc));
        if (groups->table == table)
            return groups;
    }
    if (!exact_store::available() || !exact_store::groups_available())
        return nullptr;
    // Read in the caller's context: catalog reads may process an
    // invalidation, which resets groups_context.
    List *entries = exact_store::exact_entries(table);
    List *found = NIL;
    foreach (lc, entries) {
        auto *entry = static_cast<exact_store::ExactEntry *>(lfirst(lc));
        auto *columns = static_cast<Columns *>(palloc(sizeof(Columns)));
        if (entry->group_by == nullptr || !find_columns_of(table, entry->group_by, columns))
            continue;
        bool known = false;
        ListCell *other;
        foreach (other, found)
            known = known || same_columns(*static_cast<Columns *>(lfirst(other)), *columns);
        if (!known)
            found = lappend(found, columns);
    }
    if (groups_context == nullptr)
        groups_context =
            AllocSetContextCreate(CacheMemoryContext, "fast_count groups", ALLOCSET_SMALL_SIZES);
    MemoryContext caller = MemoryContextSwitchTo(groups_context);
    auto *groups = static_cast<TableGroups *>(palloc0(sizeof(TableGroups)));
    groups->table = table;
    foreach (lc, found) {
        auto *copy = static_cast<Columns *>(palloc(sizeof(Columns)));
        *copy = *static_cast<Columns *>(lfirst(lc));
        groups->sets = lappend(groups->sets, copy);
    }
    tables = lappend(tables, groups);
    MemoryContextSwitchTo(caller);
    return groups;
}

// --- recognising "the registered query AND col = v" ---------------------------------

Node *strip_relabel(Node *node)
{
    while (node != nullptr && IsA(node, RelabelType))
        node = reinterpret_cast<Node *>(castNode(RelabelType, node)->arg);
    return node;
}

// A condition on one column that names groups: = v, IN (v, ...), IS NULL.
struct Condition {
    AttrNumber attnum = 0;
    List *values = NIL;  // Const * (a NULL const stands for IS NULL)
};

Var *column_var(Node *node, Index rtindex)
{
    node = strip_relabel(node);
    if (node == nullptr || !IsA(node, Var))
        return nullptr;
    Var *var = castNode(Var, node);
    if (var->varno != static_cast<int>(rtindex) || var->varlevelsup != 0 || var->varattno <= 0)
        return nullptr;
    return var;
}

bool is_integer(Oid type)
{
    return type == INT2OID || type == INT4OID || type == INT8OID;
}

bool is_user_function(Oid funcid, void *)
{
    return funcid >= FirstNormalObjectId;
}

bool calls_user_function(Node *node, void *context)
{
    if (node == nullptr)
        return false;
    if (check_functions_in_node(node, is_user_function, context))
        return true;
    return walk_expression(node, calls_user_function, context);
}

// A constant expression (1 + 1, 2::bigint, an immutable built-in function
// of constants) folded as the planner folds it, as a Const; nullptr for
// anything else (columns, parameters, subqueries, stable or volatile
// functions, and user-defined ones, which may lie about being immutable and
// must not run here): it names no group.
Const *folded_constant(Node *node)
{
    node = strip_relabel(node);
    if (node == nullptr)
        return nullptr;
    if (IsA(node, Const))
        return castNode(Const, node);
    if (contain_var_clause(node) || checkExprHasSubLink(node) || contain_mutable_functions(node) ||
        calls_user_function(node, nullptr))
        return nullptr;
    node = strip_relabel(eval_const_expressions(nullptr, node));
    return (node != nullptr && IsA(node, Const)) ? castNode(Const, node) : nullptr;
}

// The value a column is compared with by opno, as a value of the column's
// type: opno must be the type's own equality (or, for integer columns, the
// equality of integer_ops with another integer type, as `bigint_col = 42`
// is), under a collation that compares bytes. nullptr when the condition
// does not name one group (NULL, another type, a value out of range).
Const *group_value(Oid opno, Oid collation, const Var *var, Node *other)
{
    Const *value = folded_constant(other);
    if (value == nullptr || value->constisnull || (OidIsValid(collation) && !get_collation_isdeterministic(collation)))
        return nullptr;
    TypeCacheEntry *type = lookup_type_cache(var->vartype, TYPECACHE_EQ_OPR | TYPECACHE_BTREE_OPFAMILY);
    if (OidIsValid(type->eq_opr) && opno == type->eq_opr) {
        int16 alen, blen;
        bool abyval, bbyval;
        get_typlenbyval(value->consttype, &alen, &abyval);
        get_typlenbyval(var->vartype, &blen, &bbyval);
        return (alen == blen && abyval == bbyval) ? value : nullptr;
    }
    if (!is_integer(var->vartype) || !is_integer(value->consttype) ||
        !OidIsValid(type->btree_opf) ||
        get_op_opfamily_strategy(opno, type->btree_opf) != BTEqualStrategyNumber)
        return nullptr;
    int64 number = value->consttype == INT2OID   ? DatumGetInt16(value->constvalue)
                   : value->consttype == INT4OID ? DatumGetInt32(value->constvalue)
                                                 : DatumGetInt64(value->constvalue);
    // A value the column cannot hold equals no row: not a group.
    Datum datum;
    if (var->vartype == INT2OID) {
        if (number < PG_INT16_MIN || number > PG_INT16_MAX)
            return nullptr;
        datum = Int16GetDatum(static_cast<int16>(number));
    } else if (var->vartype == INT4OID) {
        if (number < PG_INT32_MIN || number > PG_INT32_MAX)
            return nullptr;
        datum = Int32GetDatum(static_cast<int32>(number));
    } else {
        datum = Int64GetDatum(number);
    }
    int16 typlen;
    bool typbyval;
    get_typlenbyval(var->vartype, &typlen, &typbyval);
    return makeConst(var->vartype, -1, InvalidOid, typlen, datum, false, typbyval);
}

bool read_condition(Node *clause, Index rtindex, Condition *out)
{
    if (IsA(clause, NullTest)) {
        NullTest *test = castNode(NullTest, clause);
        Var *var = column_var(reinterpret_cast<Node *>(test->arg), rtindex);
        if (test->nulltesttype != IS_NULL || test->argisrow || var == nullptr)
            return false;
        out->attnum = var->varattno;
        out->values = list_make1(makeNullConst(var->vartype, var->vartypmod, var->varcollid));
        return true;
    }
    if (IsA(clause, OpExpr)) {
        OpExpr *op = castNode(OpExpr, clause);
        if (list_length(op->args) != 2)
            return false;
        Var *var = column_var(static_cast<Node *>(linitial(op->args)), rtindex);
        Node *other = strip_relabel(static_cast<Node *>(lsecond(op->args)));
        if (var == nullptr) {
            var = column_var(static_cast<Node *>(lsecond(op->args)), rtindex);
            other = strip_relabel(static_cast<Node *>(linitial(op->args)));
        }
        Const *value = var == nullptr ? nullptr : group_value(op->opno, op->inputcollid, var, other);
        if (value == nullptr)
            return false;
        out->attnum = var->varattno;
        out->values = list_make1(value);
        return true;
    }
    if (IsA(clause, ScalarArrayOpExpr)) {
        ScalarArrayOpExpr *op = castNode(ScalarArrayOpExpr, clause);
        if (!op->useOr || list_length(op->args) != 2)
            return false;
        Var *var = column_var(static_cast<Node *>(linitial(op->args)), rtindex);
        Node *array = strip_relabel(static_cast<Node *>(lsecond(op->args)));
        if (var == nullptr || array == nullptr)
            return false;
        List *elements = NIL;
        if (IsA(array, ArrayExpr)) {
            elements = castNode(ArrayExpr, array)->elements;
        } else if (IsA(array, Const) && !castNode(Const, array)->constisnull) {
            ArrayType *items = DatumGetArrayTypeP(castNode(Const, array)->constvalue);
            Oid element_type = ARR_ELEMTYPE(items);
            int16 typlen;
            bool typbyval;
            char typalign;
            get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
            Datum *datums;
            bool *nulls;
            int n;
            deconstruct_array(items, element_type, typlen, typbyval, typalign, &datums, &nulls, &n);
            for (int i = 0; i < n; i++)
                elements = lappend(elements, makeConst(element_type, -1, var->varcollid, typlen,
                                                       datums[i], nulls[i], typbyval));
        } else {
            return false;
        }
        List *values = NIL;
        ListCell *lc;
        foreach (lc, elements) {
            Node *element = reinterpret_cast<Node *>(
                folded_constant(static_cast<Node *>(lfirst(lc))));
            if (element == nullptr)
                return false;
            // A NULL in the list matches no row.
            if (castNode(Const, element)->constisnull)
                continue;
            Const *value = group_value(op->opno, op->inputcollid, var, element);
            if (value == nullptr)
                return false;
            values = lappend(values, value);
        }
        if (values == NIL)
            return false;
        out->attnum = var->varattno;
        out->values = values;
        return true;
    }
    return false;
}

// Every combination of the conditions' values, as groups, deduplicated;
// nullptr when there are too many.
List *groups_named(const Columns &columns, Condition *conditions)
{
    List *groups = NIL;
    int total = 1;
    for (int i = 0; i < columns.count; i++) {
        total *= list_length(conditions[i].values);
        if (total > kMaxGroupsPerQuery)
            return nullptr;
    }
    for (int n = 0; n < total; n++) {
        StringInfoData buf;
        initStringInfo(&buf);
        int rest = n;
        for (int i = 0; i < columns.count; i++) {
            int size = list_length(conditions[i].values);
            Const *value = static_cast<Const *>(list_nth(conditions[i].values, rest % size));
            rest /= size;
            append_value(&buf, value->constvalue, value->constisnull, columns.typlen[i],
                         columns.typbyval[i], columns.type[i]);
        }
        bytea *group = to_bytea(buf);
        bool known = false;
        ListCell *lc;
        foreach (lc, groups)
            known = known || same_group(static_cast<bytea *>(lfirst(lc)), group);
        if (!known)
            groups = lappend(groups, group);
    }
    return groups;
}

Node *rebuild_quals(List *conjuncts)
{
    if (conjuncts == NIL)
        return nullptr;
    if (list_length(conjuncts) == 1)
        return static_cast<Node *>(linitial(conjuncts));
    return reinterpret_cast<Node *>(makeBoolExpr(AND_EXPR, conjuncts, -1));
}

// The grouped registration with these columns that would answer row_set,
// added to identity->served_by (nothing when row_set does not name groups
// of these columns).
void consider(QueryIdentity *identity, Query *row_set, Index rtindex, const Columns &columns)
{
    List *conjuncts = make_ands_implicit(reinterpret_cast<Expr *>(row_set->jointree->quals));
    Condition conditions[kMaxColumns];
    int used[kMaxColumns] = {};
    for (int i = 0; i < columns.count; i++) {
        int found = 0;
        int index = 0;
        ListCell *lc;
        foreach (lc, conjuncts) {
            Condition condition;
            if (read_condition(static_cast<Node *>(lfirst(lc)), rtindex, &condition) &&
                condition.attnum == columns.attnum[i]) {
                found++;
                conditions[i] = condition;
                used[i] = index;
            }
            index++;
        }
        // Two conditions on one column: the registered query may hold one.
        if (found != 1)
            return;
    }
    List *groups = groups_named(columns, conditions);
    if (groups == nullptr)
        return;

    // The row set without the group conditions, in the order written.
    Query *rest = static_cast<Query *>(copyObject(row_set));
    List *rest_conjuncts = make_ands_implicit(reinterpret_cast<Expr *>(rest->jointree->quals));
    List *kept = NIL;
    int index = 0;
    ListCell *lc;
    foreach (lc, rest_conjuncts) {
        bool is_used = false;
        for (int i = 0; i < columns.count; i++)
            is_used = is_used || used[i] == index;
        if (!is_used)
            kept = lappend(kept, lfirst(lc));
        index++;
    }
    rest->jointree->quals = rebuild_quals(kept);
    pg_uuid_t registration = registration_key(key_of_row_set(rest), columns);

    int parts = list_length(groups);
    auto *served = static_cast<ServedBy *>(
        palloc(offsetof(ServedBy, part) + sizeof(pg_uuid_t) * Max(parts, 1)));
    served->key = registration;
    served->parts = parts;
    int n = 0;
    foreach (lc, groups)
        served->part[n++] = group_key(registration, static_cast<bytea *>(lfirst(lc)));
    identity->served_by = lappend(identity->served_by, served);
}

} // namespace

bool find_columns_of(Oid relid, ArrayType *group_by, Columns *columns)
{
    if (group_by == nullptr || ARR_NDIM(group_by) != 1)
        return false;
    List *names = column_names(group_by);
    if (list_length(names) < 1 || list_length(names) > kMaxColumns)
        return false;
    columns->count = 0;
    ListCell *lc;
    foreach (lc, names) {
        const char *name = static_cast<const char *>(lfirst(lc));
        AttrNumber attnum = name == nullptr ? InvalidAttrNumber : get_attnum(relid, name);
        if (attnum <= 0)
            return false;
        Oid type = get_atttype(relid, attnum);
        int i = columns->count++;
        columns->attnum[i] = attnum;
        columns->type[i] = getBaseType(type);
        get_typlenbyval(type, &columns->typlen[i], &columns->typbyval[i]);
    }
    return true;
}

bool find_columns(Relation rel, ArrayType *group_by, Columns *columns)
{
    return find_columns_of(RelationGetRelid(rel), group_by, columns);
}

Columns check_columns(Oid table, ArrayType *group_by)
{
    if (ARR_NDIM(group_by) > 1)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("group_by must be a one-dimensional array of column names")));
    List *names = column_names(group_by);
    if (list_length(names) < 1 || list_length(names) > kMaxColumns)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("group_by names %d columns", list_length(names)),
                        errdetail("A grouped count has 1 to %d group columns.", kMaxColumns)));
    Columns columns;
    ListCell *lc;
    foreach (lc, names) {
        const char *name = static_cast<const char *>(lfirst(lc));
        if (name == nullptr)
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("group_by must not contain NULL")));
        AttrNumber attnum = get_attnum(table, name);
        if (attnum == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" of relation \"%s\" does not exist", name,
                                   get_rel_name(table)),
                            errhint("group_by names columns of the query's table.")));
        if (attnum < 0)
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("system column \"%s\" cannot be a group column", name)));
        for (int i = 0; i < columns.count; i++)
            if (columns.attnum[i] == attnum)
                ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                                errmsg("column \"%s\" appears twice in group_by", name)));
        Oid type;
        int32 typmod;
        Oid collation;
        get_atttypetypmodcoll(table, attnum, &type, &typmod, &collation);
        TypeCacheEntry *cache = lookup_type_cache(type, TYPECACHE_BTREE_OPFAMILY | TYPECACHE_EQ_OPR);
        if (!OidIsValid(cache->btree_opf) || !OidIsValid(cache->eq_opr))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                            errmsg("column \"%s\" cannot be a group column", name),
                            errdetail("Type %s has no default B-tree operator class.",
                                      format_type_be(type))));
        // btequalimage: equal values have equal bytes (what B-tree
        // deduplication relies on); then bytes name a group as equality does.
        // float and numeric values are given their canonical form first.
        Oid equalimage = get_opfamily_proc(cache->btree_opf, cache->btree_opintype,
                                           cache->btree_opintype, BTEQUALIMAGE_PROC);
        if (!has_canonical_form(getBaseType(type)) &&
            (!OidIsValid(equalimage) ||
             !DatumGetBool(OidFunctionCall1Coll(equalimage, collation,
                                                ObjectIdGetDatum(cache->btree_opintype)))))
            ereport(ERROR,
                    (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                     errmsg("column \"%s\" cannot be a group column", name),
                     errdetail("Equal values of type %s%s can differ in their bytes, so the "
                               "write path could not tell its groups apart without running the "
                               "type's code for every row.",
                               format_type_be(type),
                               OidIsValid(collation) ? " under the column's collation" : ""),
                     errhint("Group by integer, numeric, float, text (with a deterministic "
                             "collation), date, timestamp, uuid, boolean or enum columns; "
                             "interval values are not.")));
        int i = columns.count++;
        columns.attnum[i] = attnum;
        columns.type[i] = getBaseType(type);
        get_typlenbyval(type, &columns.typlen[i], &columns.typbyval[i]);
    }
    return columns;
}

pg_uuid_t registration_key(const pg_uuid_t &query_key, const Columns &columns)
{
    int16 attnums[kMaxColumns];
    for (int i = 0; i < columns.count; i++)
        attnums[i] = columns.attnum[i];
    return digest_key("fast_count grouped registration\n", query_key, attnums,
                      sizeof(int16) * columns.count);
}

pg_uuid_t group_key(const pg_uuid_t &registration, const bytea *group)
{
    return digest_key("fast_count group\n", registration, VARDATA_ANY(group),
                      VARSIZE_ANY_EXHDR(group));
}

bytea *group_of_slot(const Columns &columns, TupleTableSlot *slot)
{
    StringInfoData buf;
    initStringInfo(&buf);
    for (int i = 0; i < columns.count; i++) {
        bool isnull;
        Datum value = slot_getattr(slot, columns.attnum[i], &isnull);
        append_value(&buf, value, isnull, columns.typlen[i], columns.typbyval[i], columns.type[i]);
    }
    bytea *group = to_bytea(buf);
    pfree(buf.data);
    return group;
}

bool same_group(const bytea *a, const bytea *b)
{
    return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
           memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

GroupText group_text(Oid table, ArrayType *group_by)
{
    GroupText text;
    text.table = table;
    text.count = 0;
    ListCell *lc;
    foreach (lc, column_names(group_by)) {
        const char *name = static_cast<const char *>(lfirst(lc));
        AttrNumber attnum = name == nullptr ? InvalidAttrNumber : get_attnum(table, name);
        if (attnum <= 0 || text.count == kMaxColumns)
            elog(ERROR, "group columns of table \"%s\" changed", get_rel_name(table));
        int i = text.count++;
        Oid type = get_atttype(table, attnum);
        get_typlenbyval(type, &text.typlen[i], &text.typbyval[i]);
        Oid output;
        bool varlena;
        getTypeOutputInfo(type, &output, &varlena);
        fmgr_info(output, &text.output[i]);
    }
    return text;
}

ArrayType *group_as_text(GroupText &text, const bytea *group)
{
    int n = text.count;
    Datum texts[kMaxColumns];
    bool nulls[kMaxColumns] = {};
    const char *data = VARDATA_ANY(group);
    const char *end = data + VARSIZE_ANY_EXHDR(group);
    for (int i = 0; i < n; i++) {
        int16 typlen = text.typlen[i];
        bool typbyval = text.typbyval[i];
        if (data >= end)
            elog(ERROR, "group columns of table \"%s\" changed", get_rel_name(text.table));
        if (*data++ == 0) {
            nulls[i] = true;
            continue;
        }
        Datum value;
        if (typbyval) {
            char bytes[sizeof(Datum)] = {};
            memcpy(bytes, data, typlen);
            value = fetch_att(bytes, true, typlen);
            data += typlen;
        } else if (typlen > 0) {
            char *copy = static_cast<char *>(palloc(typlen));
            memcpy(copy, data, typlen);
            value = PointerGetDatum(copy);
            data += typlen;
        } else {
            int32 size;
            memcpy(&size, data, sizeof(size));
            data += sizeof(size);
            if (typlen == -1) {
                auto *copy = static_cast<struct varlena *>(palloc(VARHDRSZ + size));
                SET_VARSIZE(copy, VARHDRSZ + size);
                memcpy(VARDATA(copy), data, size);
                value = PointerGetDatum(copy);
            } else {
                value = CStringGetDatum(pnstrdup(data, size));
            }
            data += size;
        }
        texts[i] = CStringGetTextDatum(OutputFunctionCall(&text.output[i], value));
    }
    int dims[1] = {n};
    int lbs[1] = {1};
    return construct_md_array(texts, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT);
}

namespace {

// Counts each group of the rows it receives (the group columns, in order).
// Rows are counted by their group's bytes, and each distinct group's key
// (a SHA-256) is computed once, at the end: a table of 10M rows has far
// fewer groups than rows.
struct GroupCount {
    bytea *group;  // hash key (the pointer; hashed and compared by its bytes)
    int64 count;
};

uint32 group_bytes_hash(const void *key, Size)
{
    const bytea *group = *static_cast<bytea *const *>(key);
    return DatumGetUInt32(hash_any(reinterpret_cast<const unsigned char *>(VARDATA_ANY(group)),
                                   static_cast<int>(VARSIZE_ANY_EXHDR(group))));
}

int group_bytes_match(const void *a, const void *b, Size)
{
    return same_group(*static_cast<bytea *const *>(a), *static_cast<bytea *const *>(b)) ? 0 : 1;
}

struct GroupReceiver {
    DestReceiver pub;
    const Columns *columns;  // numbered 1..n: the plan's output
    HTAB *groups;            // group bytes -> GroupCount
    MemoryContext keep;      // the groups' bytes
    MemoryContext per_row;
};

bool receive_group(TupleTableSlot *slot, DestReceiver *self)
{
    auto *receiver = reinterpret_cast<GroupReceiver *>(self);
    MemoryContext caller = MemoryContextSwitchTo(receiver->per_row);
    bytea *group = group_of_slot(*receiver->columns, slot);
    MemoryContextSwitchTo(caller);
    bool found;
    auto *counted = static_cast<GroupCount *>(hash_search(receiver->groups, &group, HASH_ENTER, &found));
    if (!found) {
        // The entry holds the row's pointer: it must outlive the row.
        counted->group = static_cast<bytea *>(MemoryContextAlloc(receiver->keep, VARSIZE_ANY(group)));
        memcpy(counted->group, group, VARSIZE_ANY(group));
        counted->count = 0;
    }
    counted->count++;
    MemoryContextReset(receiver->per_row);
    return true;
}

void group_startup(DestReceiver *, int, TupleDesc) {}
void group_shutdown(DestReceiver *) {}
void group_destroy(DestReceiver *) {}

} // namespace

List *count_groups(const QueryIdentity *identity, const Columns &columns, Snapshot snapshot)
{
    MemoryContext keep = CurrentMemoryContext;
    MemoryContext work =
        AllocSetContextCreate(CurrentMemoryContext, "fast_count group count", ALLOCSET_DEFAULT_SIZES);
    MemoryContext caller = MemoryContextSwitchTo(work);

    // The row set with the group columns for its target list.
    Query *row_set = static_cast<Query *>(
        copyObject(linitial_node(RangeTblEntry, identity->count_query->rtable)->subquery));
    Index rtindex = static_cast<Index>(linitial_node(RangeTblRef, row_set->jointree->fromlist)->rtindex);
    Oid table = linitial_node(RangeTblEntry, row_set->rtable)->relid;
    List *targets = NIL;
    Columns output = columns;
    for (int i = 0; i < columns.count; i++) {
        Oid type;
        int32 typmod;
        Oid collation;
        get_atttypetypmodcoll(table, columns.attnum[i], &type, &typmod, &collation);
        Var *var = makeVar(rtindex, columns.attnum[i], type, typmod, collation, 0);
        targets = lappend(targets, makeTargetEntry(reinterpret_cast<Expr *>(var),
                                                   static_cast<AttrNumber>(i + 1), nullptr, false));
        output.attnum[i] = static_cast<AttrNumber>(i + 1);
    }
    row_set->targetList = targets;
    row_set->sortClause = NIL;
    PlannedStmt *plan = pg_plan_query(row_set, identity->query_text, CURSOR_OPT_PARALLEL_OK, nullptr);

    GroupReceiver receiver{};
    receiver.pub.receiveSlot = receive_group;
    receiver.pub.rStartup = group_startup;
    receiver.pub.rShutdown = group_shutdown;
    receiver.pub.rDestroy = group_destroy;
    receiver.pub.mydest = DestNone;
    receiver.columns = &output;
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(bytea *);
    info.entrysize = sizeof(GroupCount);
    info.hash = group_bytes_hash;
    info.match = group_bytes_match;
    info.hcxt = work;
    receiver.groups = hash_create("fast_count group counts", 1024, &info,
                                  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
    receiver.keep = keep;
    receiver.per_row = AllocSetContextCreate(work, "fast_count group row", ALLOCSET_SMALL_SIZES);

    run_plan(plan, identity->query_text, snapshot, &receiver.pub);

    MemoryContextSwitchTo(keep);
    List *result = NIL;
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, receiver.groups);
    GroupCount *counted;
    while ((counted = static_cast<GroupCount *>(hash_seq_search(&status))) != nullptr) {
        auto *sum = static_cast<exact_store::GroupSum *>(palloc(sizeof(exact_store::GroupSum)));
        sum->key = group_key(identity->key, counted->group);
        sum->group = counted->group;
        sum->sum = counted->count;
        result = lappend(result, sum);
    }
    MemoryContextSwitchTo(caller);
    MemoryContextDelete(work);
    return result;
}

void describe(QueryIdentity *identity, Query *row_set)
{
    if (row_set->commandType != CMD_SELECT || list_length(row_set->rtable) != 1 ||
        row_set->jointree == nullptr || list_length(row_set->jointree->fromlist) != 1 ||
        row_set->jointree->quals == nullptr || !IsA(linitial(row_set->jointree->fromlist), RangeTblRef))
        return;
    RangeTblEntry *rte = linitial_node(RangeTblEntry, row_set->rtable);
    if (rte->rtekind != RTE_RELATION)
        return;
    Index rtindex = static_cast<Index>(linitial_node(RangeTblRef, row_set->jointree->fromlist)->rtindex);
    if (rtindex != 1)
        return;
    const TableGroups *groups = groups_of(rte->relid);
    if (groups == nullptr)
        return;
    // Copied first: consider() reads the catalogs, which may process an
    // invalidation of the table and so reset groups_context under us.
    int count = list_length(groups->sets);
    auto *sets = static_cast<Columns *>(palloc(sizeof(Columns) * Max(count, 1)));
    for (int i = 0; i < count; i++)
        sets[i] = *static_cast<Columns *>(list_nth(groups->sets, i));
    for (int i = 0; i < count; i++)
        consider(identity, row_set, rtindex, sets[i]);
}

void relation_changed(Oid relid)
{
    bool known = relid == InvalidOid;
    ListCell *lc;
    foreach (lc, tables)
        known = known || static_cast<TableGroups *>(lfirst(lc))->table == relid;
    if (!known)
        return;
    // Nothing here allocates: an invalidation may arrive at commit.
    tables = NIL;
    if (groups_context != nullptr)
        MemoryContextReset(groups_context);
}

} // namespace fast_count::exact_groups
