#include "query_identity.hpp"

#include "mode_registry.hpp"

#include "pg/node_walk.hpp"
#include "session_settings.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

namespace fast_count {

namespace {

// --- error positions -------------------------------------------------------

// Makes a syntax error point into the query text, not into the SQL statement
// that called fast_count().
void query_error_callback(void *arg)
{
    const char *text = static_cast<const char *>(arg);
    int position = geterrposition();
    if (position > 0) {
        errposition(0);
        internalerrposition(position);
        internalerrquery(text);
    }
}

// --- validation of the raw statement ---------------------------------------

[[noreturn]] void reject(const char *message, const char *detail = nullptr)
{
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s", message),
             detail ? errdetail("%s", detail) : 0,
             errhint("fast_count counts the rows of one read-only SELECT query.")));
    pg_unreachable();
}

void validate_select(SelectStmt *select)
{
    for (SelectStmt *leaf = select; leaf != nullptr; leaf = leaf->larg) {
        if (leaf->intoClause != nullptr)
            reject("SELECT INTO cannot be counted", "SELECT INTO creates a table.");
        if (leaf->op == SETOP_NONE)
            break;
    }
    if (select->lockingClause != NIL)
        reject("SELECT FOR UPDATE/SHARE cannot be counted", "Counting must not lock rows.");
    if (select->withClause != nullptr) {
        ListCell *lc;
        foreach (lc, select->withClause->ctes) {
            CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);
            if (!IsA(cte->ctequery, SelectStmt))
                reject("a query with a data-modifying WITH cannot be counted",
                       "Counting must not change data.");
        }
    }
}

RawStmt *parse_single_select(const char *text)
{
    List *statements = raw_parser(text, RAW_PARSE_DEFAULT);
    if (statements == NIL)
        reject("query is empty");
    if (list_length(statements) > 1)
        reject("query must be a single statement",
               psprintf("The text holds %d statements.", list_length(statements)));

    RawStmt *raw = linitial_node(RawStmt, statements);
    if (!IsA(raw->stmt, SelectStmt)) {
        const char *tag = GetCommandTagName(CreateCommandTag(raw->stmt));
        reject("only a SELECT query can be counted", psprintf("The query is %s.", tag));
    }
    validate_select(castNode(SelectStmt, raw->stmt));
    return raw;
}

// SELECT count(*) FROM (<select>) fast_count_q, built as a raw tree so that
// the caller's text is parsed exactly once and error positions stay right.
RawStmt *wrap_in_count(RawStmt *raw)
{
    FuncCall *count_star =
        makeFuncCall(SystemFuncName(pstrdup("count")), NIL, COERCE_EXPLICIT_CALL, -1);
    count_star->agg_star = true;

    ResTarget *target = makeNode(ResTarget);
    target->val = reinterpret_cast<Node *>(count_star);
    target->location = -1;

    RangeSubselect *from = makeNode(RangeSubselect);
    from->subquery = raw->stmt;
    from->alias = makeAlias("fast_count_q", NIL);

    SelectStmt *outer = makeNode(SelectStmt);
    outer->targetList = list_make1(target);
    outer->fromClause = list_make1(from);

    RawStmt *wrapped = makeNode(RawStmt);
    wrapped->stmt = reinterpret_cast<Node *>(outer);
    wrapped->stmt_location = raw->stmt_location;
    wrapped->stmt_len = raw->stmt_len;
    return wrapped;
}

// --- parameters --------------------------------------------------------------

struct ParamValues {
    int count;
    Oid *types;
    Datum *values;
    bool *nulls;
};

ParamValues read_params(ArrayType *params, Oid *types, int used)
{
    Datum *elems = nullptr;
    bool *elem_nulls = nullptr;
    int given = 0;

    if (params != nullptr) {
        if (ARR_NDIM(params) > 1)
            ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                            errmsg("parameters must be a one-dimensional text array")));
        deconstruct_array(params, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls,
                          &given);
    }
    if (used > given)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_PARAMETER),
                 errmsg("there is no parameter $%d", given + 1),
                 errdetail("The query uses %d parameter(s) but %d value(s) were given.", used,
                           given)));
    if (given > used)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("%d parameter value(s) given but the query uses %d", given, used)));

    ParamValues out{used, types, static_cast<Datum *>(palloc0(sizeof(Datum) * (used + 1))),
                    static_cast<bool *>(palloc0(sizeof(bool) * (used + 1)))};
    for (int i = 0; i < used; i++) {
        if (types[i] == InvalidOid || types[i] == UNKNOWNOID)
            ereport(ERROR, (errcode(ERRCODE_INDETERMINATE_DATATYPE),
                            errmsg("could not determine data type of parameter $%d", i + 1)));
        out.nulls[i] = elem_nulls[i];
        if (!elem_nulls[i]) {
            Oid input_fn;
            Oid ioparam;
            getTypeInputInfo(types[i], &input_fn, &ioparam);
            out.values[i] =
                OidInputFunctionCall(input_fn, TextDatumGetCString(elems[i]), ioparam, -1);
        }
    }
    return out;
}

// Replaces $n by the constant it stands for, so that a literal and a
// parameter with the same value give the same tree, key and plan.
Node *substitute_params(Node *node, void *context)
{
    if (node == nullptr)
        return nullptr;
    auto *params = static_cast<ParamValues *>(context);
    if (IsA(node, Param)) {
        Param *param = castNode(Param, node);
        if (param->paramkind == PARAM_EXTERN && param->paramid >= 1 &&
            param->paramid <= params->count) {
            int i = param->paramid - 1;
            int16 typlen;
            bool typbyval;
            get_typlenbyval(param->paramtype, &typlen, &typbyval);
            return reinterpret_cast<Node *>(makeConst(param->paramtype, param->paramtypmod,
                                                      param->paramcollid, typlen,
                                                      params->values[i], params->nulls[i],
                                                      typbyval));
        }
    }
    if (IsA(node, Query))
        return reinterpret_cast<Node *>(
            mutate_query(castNode(Query, node), substitute_params, context, 0));
    return mutate_expression(node, substitute_params, context);
}

// --- the key ------------------------------------------------------------------

// Clears what does not change the rows a query returns: aliases, output
// column names and statement positions.
bool clear_spelling(Node *node, void *context)
{
    if (node == nullptr)
        return false;
    if (IsA(node, RangeTblEntry)) {
        RangeTblEntry *rte = castNode(RangeTblEntry, node);
        rte->alias = nullptr;
        if (rte->eref != nullptr)
            rte->eref->aliasname = pstrdup("");
        // Which columns are read is a privilege question (checked for each
        // caller on its own tree), not a question of how many rows there are.
        rte->selectedCols = nullptr;
        return false;
    }
    if (IsA(node, Query)) {
        Query *query = castNode(Query, node);
        query->stmt_location = 0;
        query->stmt_len = 0;
        query->queryId = 0;
        ListCell *lc;
        foreach (lc, query->targetList)
            lfirst_node(TargetEntry, lc)->resname = nullptr;
        return walk_query(query, clear_spelling, context, QTW_EXAMINE_RTES_BEFORE);
    }
    return walk_expression(node, clear_spelling, context);
}

// nodeToString() prints every token position as " :location N"; those differ
// between spellings and are dropped. Backslash escapes are kept together so
// that text inside identifiers can never look like a field.
void append_without_locations(StringInfo out, const char *tree)
{
    static const char kField[] = " :location ";
    const size_t field_len = sizeof(kField) - 1;
    const char *p = tree;
    while (*p) {
        if (*p == '\\' && p[1] != '\0') {
            appendBinaryStringInfo(out, p, 2);
            p += 2;
            continue;
        }
        if (*p == ' ' && strncmp(p, kField, field_len) == 0) {
            const char *q = p + field_len;
            if (*q == '-')
                q++;
            const char *digits = q;
            while (*q >= '0' && *q <= '9')
                q++;
            if (q > digits && (*q == ' ' || *q == ')' || *q == '}' || *q == '\0')) {
                p = q;
                continue;
            }
        }
        appendStringInfoChar(out, *p++);
    }
}

// --- what the query reads and calls ------------------------------------------

struct Inspection {
    List *permission_rtes = NIL;
    List *tables = NIL;
    const char *uncacheable = nullptr;
    // The clock, a stable function or user code can change the result while
    // the tables stay as they were.
    bool time_dependent = false;
    // User code runs with the caller's rights, so its result can depend on
    // who calls it (it may read the caller's tables, or lie per role).
    bool runs_user_code = false;
    List *functions = NIL;  // user-defined functions the query calls
    List *types = NIL;      // user-defined types of its values and domains it checks
};

void mark_uncacheable(Inspection *inspection, const char *reason)
{
    if (inspection->uncacheable == nullptr)
        inspection->uncacheable = reason;
}

bool has_prefix(const char *name, const char *prefix)
{
    return strncmp(name, prefix, strlen(prefix)) == 0;
}

bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0;
}

// Built-in stable functions whose result depends on who is asking or on the
// session's search_path, not just on time zone or formatting settings.
bool reads_session_identity(const char *name)
{
    static const char *const exact[] = {
        "current_setting", "current_schema",   "current_schemas",  "current_user",
        "session_user",    "pg_backend_pid",   "pg_has_role",      "pg_my_temp_schema",
        "pg_is_other_temp_schema", "inet_client_addr", "inet_client_port", "inet_server_addr",
        "inet_server_port", "row_security_active",
    };
    for (const char *candidate : exact)
        if (strcmp(name, candidate) == 0)
            return true;
    return has_prefix(name, "has_") || has_prefix(name, "to_reg") || has_prefix(name, "reg") ||
           has_suffix(name, "_is_visible");
}

// Objects created after initdb (OID >= FirstNormalObjectId) are user code,
// also when an extension created them.
bool user_defined(Oid oid)
{
    return oid >= FirstNormalObjectId;
}

bool inspect_function(Oid funcid, void *context)
{
    auto *inspection = static_cast<Inspection *>(context);
    if (user_defined(funcid)) {
        // Whatever it claims to be, it may read tables or the clock: never
        // shared across roles, never "unchanged", and its definition is part
        // of the key.
        inspection->runs_user_code = true;
        inspection->time_dependent = true;
        inspection->functions = list_append_unique_oid(inspection->functions, funcid);
    }
    char volatility = func_volatile(funcid);
    if (volatility == PROVOLATILE_VOLATILE) {
        mark_uncacheable(inspection, "the query calls a volatile function");
    } else if (volatility == PROVOLATILE_STABLE) {
        inspection->time_dependent = true;
        if (get_func_namespace(funcid) != PG_CATALOG_NAMESPACE)
            mark_uncacheable(inspection,
                             "the query calls a stable function that is not built in");
        else if (reads_session_identity(get_func_name(funcid)))
            mark_uncacheable(inspection,
                             "the query calls a function that depends on the session");
    }
    return false;
}

void inspect_operator(Inspection *inspection, Oid opno)
{
    if (OidIsValid(opno)) {
        RegProcedure funcid = get_opcode(opno);
        if (OidIsValid(funcid))
            (void) inspect_function(funcid, inspection);
    }
}

// Grouping, DISTINCT, ORDER BY and window clauses name the operators they
// compare with; the walkers do not visit them.
void inspect_sort_clauses(Inspection *inspection, List *clauses)
{
    ListCell *lc;
    foreach (lc, clauses) {
        SortGroupClause *clause = lfirst_node(SortGroupClause, lc);
        inspect_operator(inspection, clause->eqop);
        inspect_operator(inspection, clause->sortop);
    }
}

void inspect_clauses(Inspection *inspection, Query *query)
{
    inspect_sort_clauses(inspection, query->groupClause);
    inspect_sort_clauses(inspection, query->distinctClause);
    inspect_sort_clauses(inspection, query->sortClause);
    ListCell *lc;
    foreach (lc, query->windowClause) {
        WindowClause *window = lfirst_node(WindowClause, lc);
        inspect_sort_clauses(inspection, window->partitionClause);
        inspect_sort_clauses(inspection, window->orderClause);
        if (OidIsValid(window->startInRangeFunc))
            (void) inspect_function(window->startInRangeFunc, inspection);
        if (OidIsValid(window->endInRangeFunc))
            (void) inspect_function(window->endInRangeFunc, inspection);
    }
    if (query->setOperations != nullptr && IsA(query->setOperations, SetOperationStmt))
        inspect_sort_clauses(inspection,
                             castNode(SetOperationStmt, query->setOperations)->groupClauses);
}

void inspect_type(Inspection *inspection, Oid type)
{
    if (user_defined(type))
        inspection->types = list_append_unique_oid(inspection->types, type);
}

void inspect_relation(Inspection *inspection, RangeTblEntry *rte)
{
    if (rte->tablesample != nullptr && rte->tablesample->repeatable == nullptr)
        mark_uncacheable(inspection, "the query samples rows at random (TABLESAMPLE without "
                                     "REPEATABLE)");
    // A sampling method's handler only builds the method (built-in ones are
    // declared volatile for no reason that matters here); a user-defined
    // one is user code.
    if (rte->tablesample != nullptr && user_defined(rte->tablesample->tsmhandler)) {
        inspection->runs_user_code = true;
        inspection->time_dependent = true;
        inspection->functions =
            list_append_unique_oid(inspection->functions, rte->tablesample->tsmhandler);
    }
    inspection->permission_rtes = lappend(inspection->permission_rtes, copyObject(rte));
    inspection->tables = list_append_unique_oid(inspection->tables, rte->relid);

    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(rte->relid));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "cache lookup failed for relation %u", rte->relid);
    Form_pg_class form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    if (form->relrowsecurity)
        mark_uncacheable(inspection, "the query reads a table with row-level security");
    if (form->relpersistence == RELPERSISTENCE_TEMP)
        mark_uncacheable(inspection, "the query reads a temporary table");
    ReleaseSysCache(tuple);
}

bool inspect(Node *node, void *context)
{
    if (node == nullptr)
        return false;
    auto *inspection = static_cast<Inspection *>(context);
    if (IsA(node, RangeTblEntry)) {
        RangeTblEntry *rte = castNode(RangeTblEntry, node);
        if (rte->rtekind == RTE_RELATION)
            inspect_relation(inspection, rte);
        return false;
    }
    if (IsA(node, Query)) {
        Query *query = castNode(Query, node);
        if (query->commandType != CMD_SELECT || query->hasModifyingCTE)
            reject("a query that changes data cannot be counted");
        if (query->rowMarks != NIL)
            reject("SELECT FOR UPDATE/SHARE cannot be counted", "Counting must not lock rows.");
        inspect_clauses(inspection, query);
        return walk_query(query, inspect, context, QTW_EXAMINE_RTES_BEFORE);
    }
    if (IsA(node, SQLValueFunction)) {
        switch (castNode(SQLValueFunction, node)->op) {
        case SVFOP_CURRENT_ROLE:
        case SVFOP_CURRENT_USER:
        case SVFOP_USER:
        case SVFOP_SESSION_USER:
        case SVFOP_CURRENT_SCHEMA:
            mark_uncacheable(inspection, "the query depends on the current role or schema");
            break;
        default:
            // CURRENT_DATE, CURRENT_TIMESTAMP, LOCALTIME, ...: the clock.
            inspection->time_dependent = true;
            break;
        }
    }
    if (IsA(node, CoerceToDomain)) {
        Oid domain = castNode(CoerceToDomain, node)->resulttype;
        inspect_type(inspection, domain);
        // Its CHECK constraints run as the caller, like functions do.
        if (user_defined(domain) && DomainHasConstraints(domain)) {
            inspection->runs_user_code = true;
            inspection->time_dependent = true;
        }
    }
    if (IsA(node, Var) || IsA(node, Const) || IsA(node, FuncExpr) || IsA(node, OpExpr) ||
        IsA(node, RelabelType) || IsA(node, CoerceViaIO) || IsA(node, ArrayCoerceExpr) ||
        IsA(node, RowExpr) || IsA(node, Aggref) || IsA(node, WindowFunc))
        inspect_type(inspection, exprType(node));
    check_functions_in_node(node, inspect_function, context);
    return walk_expression(node, inspect, context);
}

// --- the key ------------------------------------------------------------------

TransactionId row_version(HeapTuple tuple)
{
    return HeapTupleHeaderGetRawXmin(tuple->t_data);
}

int compare_uint64(const void *a, const void *b)
{
    uint64 x = *static_cast<const uint64 *>(a), y = *static_cast<const uint64 *>(b);
    return x < y ? -1 : (x > y ? 1 : 0);
}

// A domain's constraints, as (OID, row version), in OID order.
void append_domain_constraints(StringInfo out, Oid domain)
{
    Relation constraints = table_open(ConstraintRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_constraint_contypid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(domain));
    SysScanDesc scan = systable_beginscan(constraints, ConstraintTypidIndexId, true, nullptr, 1,
                                          &key);
    List *found = NIL;
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto *form = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tuple));
        auto *item = static_cast<uint64 *>(palloc(sizeof(uint64)));
        *item = (static_cast<uint64>(form->oid) << 32) | row_version(tuple);
        found = lappend(found, item);
    }
    systable_endscan(scan);
    table_close(constraints, AccessShareLock);

    int n = list_length(found);
    uint64 *items = static_cast<uint64 *>(palloc(sizeof(uint64) * (n + 1)));
    for (int i = 0; i < n; i++)
        items[i] = *static_cast<uint64 *>(list_nth(found, i));
    qsort(items, n, sizeof(uint64), compare_uint64);
    for (int i = 0; i < n; i++)
        appendStringInfo(out, "\nconstraint %u %u", static_cast<uint32>(items[i] >> 32),
                         static_cast<uint32>(items[i]));
}

// What CREATE OR REPLACE or ALTER changes without changing an OID: the row
// version of every user-defined function and type the query uses (and of a
// domain's constraints, and the domains below it), so that a new definition
// is a new key — as the plan cache drops a plan on its function and type
// dependencies.
void append_definitions(StringInfo out, const Inspection &inspection)
{
    ListCell *lc;
    foreach (lc, inspection.functions) {
        Oid funcid = lfirst_oid(lc);
        HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
        if (!HeapTupleIsValid(tuple))
            elog(ERROR, "cache lookup failed for function %u", funcid);
        appendStringInfo(out, "\nfunction %u %u", funcid, row_version(tuple));
        ReleaseSysCache(tuple);
    }
    List *types = list_copy(inspection.types);
    for (int i = 0; i < list_length(types); i++) {
        Oid type = list_nth_oid(types, i);
        HeapTuple tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
        if (!HeapTupleIsValid(tuple))
            elog(ERROR, "cache lookup failed for type %u", type);
        auto *form = reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple));
        appendStringInfo(out, "\ntype %u %u", type, row_version(tuple));
        bool domain = form->typtype == TYPTYPE_DOMAIN;
        Oid base = form->typbasetype;
        ReleaseSysCache(tuple);
        if (domain) {
            append_domain_constraints(out, type);
            if (user_defined(base))
                types = list_append_unique_oid(types, base);
        }
    }
}

// Whether the target list can change how many rows the query returns. When
// it cannot, it is no part of the key: `SELECT *`, `SELECT id` and the row
// set under `SELECT count(*) FROM ... WHERE ...` are one count. Aggregates
// without GROUP BY make one row, DISTINCT and set operations compare the
// columns, set-returning functions multiply rows, and WITH TIES compares the
// ORDER BY values; any of those keeps the target list (and ORDER BY) in.
// What the target list calls is still inspected (volatile, user code, the
// tables its sublinks read), so it still decides whether the count is kept.
bool target_list_counts(const Query *query)
{
    return query->hasAggs || query->hasWindowFuncs || query->hasTargetSRFs ||
           query->groupClause != NIL || query->groupingSets != NIL ||
           query->havingQual != nullptr || query->distinctClause != NIL ||
           query->setOperations != nullptr || query->limitOption == LIMIT_OPTION_WITH_TIES;
}

} // namespace

void strip_row_set_spelling(Query *query)
{
    if (target_list_counts(query))
        return;
    // ORDER BY cannot change a count either (LIMIT keeps the first n of
    // any order); its resjunk targets go with it.
    query->targetList = NIL;
    query->sortClause = NIL;
}

namespace {

// The key: the rewritten tree (views expanded, so their definitions are in
// it, at any depth), every setting that can change the result, the
// definitions of the user-defined objects it uses and, when it runs user
// code, the role that runs it.
pg_uuid_t compute_key(Query *subquery, const Inspection &inspection)
{
    Query *canonical = static_cast<Query *>(copyObject(subquery));
    strip_row_set_spelling(canonical);
    clear_spelling(reinterpret_cast<Node *>(canonical), nullptr);

    StringInfoData buf;
    initStringInfo(&buf);
    append_without_locations(&buf, nodeToString(canonical));
    appendStringInfoString(&buf, "\n-- settings");
    session_settings::append_key_text(&buf);
    append_definitions(&buf, inspection);
    if (inspection.runs_user_code)
        appendStringInfo(&buf, "\nrole %u", GetUserId());

    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    if (pg_cryptohash_init(ctx) < 0 ||
        pg_cryptohash_update(ctx, reinterpret_cast<const uint8 *>(buf.data), buf.len) < 0 ||
        pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
        elog(ERROR, "could not compute SHA-256 of the query tree: %s",
             pg_cryptohash_error(ctx));
    pg_cryptohash_free(ctx);

    pg_uuid_t key;
    memcpy(key.data, digest, UUID_LEN);
    return key;
}
bool collect_named_relations(Node *node, void *context)
{
    if (node == nullptr)
        return false;
    if (IsA(node, RangeTblEntry)) {
        RangeTblEntry *rte = castNode(RangeTblEntry, node);
        if (rte->rtekind == RTE_RELATION) {
            auto *relids = static_cast<List **>(context);
            *relids = list_append_unique_oid(*relids, rte->relid);
        }
        return false;
    }
    if (IsA(node, Query))
        return walk_query(castNode(Query, node), collect_named_relations, context,
                          QTW_EXAMINE_RTES_BEFORE);
    return walk_expression(node, collect_named_relations, context);
}

// Every (name, schema) pair a relation name of the text could resolve to,
// as the RELNAMENSP syscache hashes it: creating, dropping or renaming a
// relation there is what can change what the text reads.
bool collect_name_hashes(Node *node, void *context)
{
    if (node == nullptr)
        return false;
    if (IsA(node, RangeVar)) {
        RangeVar *range = castNode(RangeVar, node);
        auto *hashes = static_cast<List **>(context);
        List *schemas = NIL;
        if (range->schemaname != nullptr) {
            Oid schema = get_namespace_oid(range->schemaname, true);
            if (OidIsValid(schema))
                schemas = list_make1_oid(schema);
        } else {
            schemas = fetch_search_path(true);
        }
        ListCell *lc;
        foreach (lc, schemas) {
            uint32 hash = GetSysCacheHashValue2(RELNAMENSP, CStringGetDatum(range->relname),
                                                ObjectIdGetDatum(lfirst_oid(lc)));
            *hashes = list_append_unique_int(*hashes, static_cast<int>(hash));
        }
        return false;
    }
    return raw_expression_tree_walker(node, function_cast<bool (*)()>(collect_name_hashes),
                                      context);
}

// Fills in what identity's count query says of itself: the relations and
// privileges it reads, whether and how it can be cached, and the key of the
// row set it counts.
void describe_count(QueryIdentity *identity, Query *row_set)
{
    Inspection inspection;
    inspect(reinterpret_cast<Node *>(identity->count_query), &inspection);
    identity->permission_rtes = inspection.permission_rtes;
    identity->tables = inspection.tables;
    identity->uncacheable = inspection.uncacheable;
    identity->time_dependent = inspection.time_dependent;
    identity->key = compute_key(row_set, inspection);
    identity->served_by = NIL;
    if (identity->uncacheable == nullptr)
        modes::describe(identity, row_set);
}

} // namespace

QueryIdentity *derive_identity(const char *text, ArrayType *params)
{
    ErrorContextCallback callback;
    callback.callback = query_error_callback;
    callback.arg = const_cast<char *>(text);
    callback.previous = error_context_stack;
    error_context_stack = &callback;

    RawStmt *raw = parse_single_select(text);
    List *name_hashes = NIL;
    collect_name_hashes(raw->stmt, &name_hashes);
    Oid *param_types = nullptr;
    int used_params = 0;
    Query *wrapper =
        parse_analyze_varparams(wrap_in_count(raw), text, &param_types, &used_params, nullptr);

    // A parameter whose type nothing decides (concat(x, $1), or an unused
    // $1) reads as text, as an untyped literal in its place would.
    bool untyped = false;
    for (int i = 0; i < used_params; i++) {
        if (param_types[i] == InvalidOid || param_types[i] == UNKNOWNOID) {
            param_types[i] = TEXTOID;
            untyped = true;
        }
    }
    if (untyped)
        wrapper = parse_analyze_varparams(wrap_in_count(parse_single_select(text)), text,
                                          &param_types, &used_params, nullptr);

    error_context_stack = callback.previous;

    ParamValues values = read_params(params, param_types, used_params);
    if (used_params > 0)
        wrapper = castNode(
            Query, substitute_params(reinterpret_cast<Node *>(wrapper), &values));

    Query *subquery = linitial_node(RangeTblEntry, wrapper->rtable)->subquery;

    auto *identity = static_cast<QueryIdentity *>(palloc0(sizeof(QueryIdentity)));
    identity->query_text = text;
    identity->params = params;
    identity->name_hashes = name_hashes;
    collect_named_relations(reinterpret_cast<Node *>(subquery), &identity->relids);

    List *rewritten = QueryRewrite(wrapper);
    if (list_length(rewritten) != 1)
        elog(ERROR, "rewriting a SELECT produced %d queries", list_length(rewritten));
    identity->count_query = linitial_node(Query, rewritten);

    describe_count(identity,
                   linitial_node(RangeTblEntry, identity->count_query->rtable)->subquery);
    return identity;
}

namespace {

struct BoundParams {
    ParamListInfo list;
    bool failed;
};

// $n as the constant the executor would read for it (detoasted and flat,
// so that the key sees the value, not where it is stored).
Node *bind_params(Node *node, void *context)
{
    if (node == nullptr)
        return nullptr;
    auto *bound = static_cast<BoundParams *>(context);
    if (IsA(node, Param) && castNode(Param, node)->paramkind == PARAM_EXTERN) {
        Param *param = castNode(Param, node);
        ParamListInfo list = bound->list;
        if (list == nullptr || param->paramid < 1 || param->paramid > list->numParams) {
            bound->failed = true;
            return node;
        }
        ParamExternData workspace;
        ParamExternData *value =
            list->paramFetch != nullptr
                ? list->paramFetch(list, param->paramid, false, &workspace)
                : &list->params[param->paramid - 1];
        if (value == nullptr || value->ptype != param->paramtype) {
            bound->failed = true;
            return node;
        }
        int16 typlen;
        bool typbyval;
        get_typlenbyval(param->paramtype, &typlen, &typbyval);
        Datum datum = value->value;
        if (!value->isnull && typlen == -1)
            datum = PointerGetDatum(PG_DETOAST_DATUM_COPY(datum));
        else if (!value->isnull && !typbyval)
            datum = datumCopy(datum, typbyval, typlen);
        return reinterpret_cast<Node *>(makeConst(param->paramtype, param->paramtypmod,
                                                  param->paramcollid, typlen, datum,
                                                  value->isnull, typbyval));
    }
    if (IsA(node, Query))
        return reinterpret_cast<Node *>(
            mutate_query(castNode(Query, node), bind_params, context, 0));
    return mutate_expression(node, bind_params, context);
}

// SELECT count(*) FROM (<row_set>) fast_count_q, as analysis would build it.
Query *wrap_row_set(Query *row_set)
{
    List *colnames = NIL;
    ListCell *lc;
    foreach (lc, row_set->targetList) {
        TargetEntry *target = lfirst_node(TargetEntry, lc);
        if (!target->resjunk)
            colnames = lappend(colnames,
                               makeString(pstrdup(target->resname ? target->resname
                                                                  : "?column?")));
    }
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_SUBQUERY;
    rte->subquery = row_set;
    rte->alias = makeAlias("fast_count_q", NIL);
    rte->eref = makeAlias("fast_count_q", colnames);
    rte->inFromCl = true;

    Aggref *count_star = makeNode(Aggref);
    count_star->aggfnoid = F_COUNT_;
    count_star->aggtype = INT8OID;
    count_star->aggstar = true;
    count_star->aggkind = AGGKIND_NORMAL;
    count_star->aggsplit = AGGSPLIT_SIMPLE;
    count_star->aggno = -1;
    count_star->aggtransno = -1;
    count_star->location = -1;

    RangeTblRef *ref = makeNode(RangeTblRef);
    ref->rtindex = 1;

    Query *wrapper = makeNode(Query);
    wrapper->commandType = CMD_SELECT;
    wrapper->querySource = QSRC_ORIGINAL;
    wrapper->canSetTag = true;
    wrapper->rtable = list_make1(rte);
    wrapper->jointree = makeFromExpr(list_make1(ref), nullptr);
    wrapper->targetList =
        list_make1(makeTargetEntry(reinterpret_cast<Expr *>(count_star), 1, pstrdup("count"),
                                   false));
    wrapper->hasAggs = true;
    return wrapper;
}

} // namespace

QueryIdentity *identity_of_row_set(Query *row_set, ParamListInfo params, const char *text)
{
    BoundParams bound{params, false};
    row_set = castNode(Query, bind_params(reinterpret_cast<Node *>(row_set), &bound));
    if (bound.failed)
        return nullptr;

    auto *identity = static_cast<QueryIdentity *>(palloc0(sizeof(QueryIdentity)));
    identity->query_text = text;
    collect_named_relations(reinterpret_cast<Node *>(row_set), &identity->relids);
    identity->count_query = wrap_row_set(row_set);

    describe_count(identity, row_set);
    return identity;
}

pg_uuid_t key_of_row_set(Query *row_set)
{
    Query *count_query = wrap_row_set(row_set);
    Inspection inspection;
    inspect(reinterpret_cast<Node *>(count_query), &inspection);
    return compute_key(linitial_node(RangeTblEntry, count_query->rtable)->subquery, inspection);
}

QueryIdentity *copy_identity(const QueryIdentity *identity)
{
    auto *copy = static_cast<QueryIdentity *>(palloc(sizeof(QueryIdentity)));
    *copy = *identity;
    copy->query_text = pstrdup(identity->query_text);
    if (identity->params != nullptr)
        copy->params = reinterpret_cast<ArrayType *>(
            PG_DETOAST_DATUM_COPY(PointerGetDatum(identity->params)));
    copy->count_query = nullptr;
    copy->permission_rtes = static_cast<List *>(copyObject(identity->permission_rtes));
    copy->relids = list_copy(identity->relids);
    copy->tables = list_copy(identity->tables);
    copy->name_hashes = list_copy(identity->name_hashes);
    copy->served_by = NIL;
    ListCell *lc;
    foreach (lc, identity->served_by) {
        const auto *served = static_cast<const ServedBy *>(lfirst(lc));
        size_t size = offsetof(ServedBy, part) + sizeof(pg_uuid_t) * Max(served->parts, 1);
        auto *served_copy = static_cast<ServedBy *>(palloc(size));
        memcpy(served_copy, served, size);
        copy->served_by = lappend(copy->served_by, served_copy);
    }
    return copy;
}

ArrayType *capture_reading_settings()
{
    return session_settings::capture();
}

void apply_reading_settings(ArrayType *settings)
{
    session_settings::apply(settings);
}

char *key_to_cstring(const pg_uuid_t &key)
{
    return DatumGetCString(
        DirectFunctionCall1(uuid_out, UUIDPGetDatum(const_cast<pg_uuid_t *>(&key))));
}

} // namespace fast_count
