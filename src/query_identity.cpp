#include "query_identity.hpp"

#include "node_walk.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "nodes/makefuncs.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace fast_count {

namespace {

// The settings that a registration records. The first one decides which
// relations the text names; the others change what stable built-in functions
// (time zones, formatting) return, so they are part of the key when the
// query calls such a function.
const char *const kSearchPath = "search_path";
const char *const kStableSettings[] = {
    "DateStyle", "IntervalStyle", "TimeZone", "lc_monetary", "lc_numeric", "lc_time",
    "standard_conforming_strings",
};

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

pg_uuid_t compute_key(Query *subquery, bool include_stable_settings)
{
    Query *canonical = static_cast<Query *>(copyObject(subquery));
    clear_spelling(reinterpret_cast<Node *>(canonical), nullptr);

    StringInfoData buf;
    initStringInfo(&buf);
    append_without_locations(&buf, nodeToString(canonical));
    if (include_stable_settings) {
        for (const char *name : kStableSettings)
            appendStringInfo(&buf, "\n%s=%s", name, GetConfigOption(name, false, false));
    }

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

// --- what the query reads and calls ------------------------------------------

struct Inspection {
    List *permission_rtes = NIL;
    List *tables = NIL;
    const char *uncacheable = nullptr;
    bool calls_stable = false;
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

bool inspect_function(Oid funcid, void *context)
{
    auto *inspection = static_cast<Inspection *>(context);
    char volatility = func_volatile(funcid);
    if (volatility == PROVOLATILE_VOLATILE) {
        mark_uncacheable(inspection, "the query calls a volatile function");
    } else if (volatility == PROVOLATILE_STABLE) {
        inspection->calls_stable = true;
        if (get_func_namespace(funcid) != PG_CATALOG_NAMESPACE)
            mark_uncacheable(inspection,
                             "the query calls a stable function that is not built in");
        else if (reads_session_identity(get_func_name(funcid)))
            mark_uncacheable(inspection,
                             "the query calls a function that depends on the session");
    }
    return false;
}

void inspect_relation(Inspection *inspection, RangeTblEntry *rte)
{
    if (rte->tablesample != nullptr && rte->tablesample->repeatable == nullptr)
        mark_uncacheable(inspection, "the query samples rows at random (TABLESAMPLE without "
                                     "REPEATABLE)");
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
            inspection->calls_stable = true;
            break;
        }
    }
    check_functions_in_node(node, inspect_function, context);
    return walk_expression(node, inspect, context);
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

    Query *key_source = static_cast<Query *>(copyObject(subquery));
    List *rewritten = QueryRewrite(wrapper);
    if (list_length(rewritten) != 1)
        elog(ERROR, "rewriting a SELECT produced %d queries", list_length(rewritten));
    identity->count_query = linitial_node(Query, rewritten);

    Inspection inspection;
    inspect(reinterpret_cast<Node *>(identity->count_query), &inspection);
    identity->permission_rtes = inspection.permission_rtes;
    identity->tables = inspection.tables;
    identity->uncacheable = inspection.uncacheable;
    identity->key = compute_key(key_source, inspection.calls_stable);
    return identity;
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
    return copy;
}

ArrayType *capture_reading_settings()
{
    const int n = 1 + lengthof(kStableSettings);
    Datum items[n];
    items[0] = CStringGetTextDatum(
        psprintf("%s=%s", kSearchPath, GetConfigOption(kSearchPath, false, false)));
    for (int i = 1; i < n; i++) {
        const char *name = kStableSettings[i - 1];
        items[i] =
            CStringGetTextDatum(psprintf("%s=%s", name, GetConfigOption(name, false, false)));
    }
    return construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT);
}

void apply_reading_settings(ArrayType *settings)
{
    Datum *items;
    bool *nulls;
    int n;
    deconstruct_array(settings, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
    for (int i = 0; i < n; i++) {
        if (nulls[i])
            continue;
        char *item = TextDatumGetCString(items[i]);
        char *eq = strchr(item, '=');
        if (eq == nullptr)
            continue;
        *eq = '\0';
        (void) set_config_option(item, eq + 1, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                                 true, 0, false);
    }
}

char *key_to_cstring(const pg_uuid_t &key)
{
    return DatumGetCString(
        DirectFunctionCall1(uuid_out, UUIDPGetDatum(const_cast<pg_uuid_t *>(&key))));
}

} // namespace fast_count
