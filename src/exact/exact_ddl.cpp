// Exact mode and DDL: our triggers (create, check, drop), and what DDL on a
// table with exact queries does to them.
//
// Row changes that fire no row trigger must never leave a count wrong:
// - ALTER TABLE (ddl_command_start, before it runs and in its transaction):
//   the exact entries of the table, of its partition ancestors and of its
//   inheritance descendants go to state 'rederive' (delta rows deleted,
//   readers count live) unless every subcommand is known not to change
//   which rows the table holds or how the predicate reads them. This covers
//   ATTACH/DETACH PARTITION (also CONCURRENTLY, whose first transaction
//   commits the mark), column type changes and drops, INHERIT, disabled
//   triggers, row-level security.
// - ddl_command_end (CREATE TABLE, ALTER TABLE): new partitions get their
//   TRUNCATE trigger; a new plain-inheritance child marks its parents; an
//   entry whose text now reads as another key (a column type changed, a
//   table was re-created) follows its text at once, so that no reader of the
//   new key is ever served a periodic count.
// - sql_drop: dropped tables and dropped triggers (a dropped partition takes
//   its clone of our trigger with it) mark the exact entries they served.
// - DROP TRIGGER and ALTER TRIGGER ... RENAME of our triggers are refused
//   while an exact query needs them.
#include "exact/exact_ddl.hpp"

#include "catalog.hpp"
#include "exact/exact_store.hpp"
#include "exact/exact_worker.hpp"
#include "key_lock.hpp"
#include "pg/event_trigger_reads.hpp"
#include "pg/pg_boundary.hpp"
#include "pg/restricted_scope.hpp"
#include "worker_control.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
}

namespace fast_count::exact_internal {

namespace {

const char kRowFunction[] = "_exact_row_trigger";
const char kTruncateFunction[] = "_exact_truncate_trigger";
const char kTriggerPrefix[] = "fast_count_exact_";

Oid trigger_function(const char *name)
{
    Oid schema = catalog::schema_oid();
    oidvector *no_args = buildoidvector(nullptr, 0);
    Oid function = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum(name),
                                   PointerGetDatum(no_args), ObjectIdGetDatum(schema));
    if (!OidIsValid(function))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("function fast_count.%s() does not exist", name),
                        errhint("Run ALTER EXTENSION fast_count UPDATE.")));
    return function;
}

// Our triggers go with DROP EXTENSION (an AUTO dependency on the extension);
// DROP TABLE and dropped partitions take them along as any trigger.
void depend_on_extension(const ObjectAddress &trigger)
{
    ObjectAddress extension;
    ObjectAddressSet(extension, ExtensionRelationId, get_extension_oid("fast_count", false));
    recordDependencyOn(&trigger, &extension, DEPENDENCY_AUTO);
}

constexpr int16 kRowEvents = TRIGGER_TYPE_INSERT | TRIGGER_TYPE_DELETE;
constexpr int16 kStatementEvents[] = {TRIGGER_TYPE_INSERT, TRIGGER_TYPE_DELETE, TRIGGER_TYPE_UPDATE};

enum class Shape { kRow, kStatement, kTruncate };

TriggerTransition *transition(bool is_new)
{
    TriggerTransition *node = makeNode(TriggerTransition);
    node->name = pstrdup(is_new ? "fast_count_new" : "fast_count_old");
    node->isNew = is_new;
    node->isTable = true;
    return node;
}

void create_trigger(Oid relid, const char *name, Shape shape, int16 events, char firing,
                    bool replace = false)
{
    bool truncate = shape == Shape::kTruncate;
    CreateTrigStmt *stmt = makeNode(CreateTrigStmt);
    stmt->replace = replace;
    stmt->isconstraint = false;
    stmt->trigname = pstrdup(name);
    stmt->relation =
        makeRangeVar(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid), -1);
    stmt->funcname = list_make2(makeString(pstrdup("fast_count")),
                                makeString(pstrdup(truncate ? kTruncateFunction : kRowFunction)));
    stmt->args = NIL;
    stmt->row = shape == Shape::kRow;
    stmt->timing = TRIGGER_TYPE_AFTER;
    stmt->events = truncate ? TRIGGER_TYPE_TRUNCATE : events;
    stmt->columns = NIL;
    stmt->whenClause = nullptr;
    stmt->transitionRels = NIL;
    if (shape == Shape::kStatement) {
        if (events != TRIGGER_TYPE_INSERT)
            stmt->transitionRels = lappend(stmt->transitionRels, transition(false));
        if (events != TRIGGER_TYPE_DELETE)
            stmt->transitionRels = lappend(stmt->transitionRels, transition(true));
    }
    stmt->deferrable = false;
    stmt->initdeferred = false;
    stmt->constrrel = nullptr;

    // Not internal: PostgreSQL checks the TRIGGER privilege of the current
    // user, and clones a row trigger to every partition, present and
    // future (with its firing).
    ObjectAddress address = CreateTriggerFiringOn(
        stmt, "fast_count exact mode", relid, InvalidOid, InvalidOid, InvalidOid,
        trigger_function(truncate ? kTruncateFunction : kRowFunction), InvalidOid, nullptr, false,
        false, firing);
    // (OR REPLACE drops the old trigger's dependencies, this one included.)
    depend_on_extension(address);
    CommandCounterIncrement();
}

// Relations a TRUNCATE trigger of table is needed on: table and, for a
// partitioned table, every partition (TRUNCATE of a partition alone fires
// only the partition's statement triggers).
List *truncate_targets(Oid table)
{
    if (get_rel_relkind(table) == RELKIND_PARTITIONED_TABLE)
        return find_all_inheritors(table, NoLock, nullptr);
    return list_make1_oid(table);
}

// What a trigger of relid is, as far as we care.
struct TriggerFacts {
    int16 type;
    char enabled;
    Oid function;
    bool has_when;
    bool has_old_table;
    bool has_new_table;
};

// The facts of relid's trigger name; false when there is none.
bool trigger_facts(Oid relid, const char *name, TriggerFacts *facts)
{
    Oid trigger = get_trigger_oid(relid, name, true);
    if (!OidIsValid(trigger))
        return false;
    Relation rel = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(trigger));
    SysScanDesc scan = systable_beginscan(rel, TriggerOidIndexId, true, nullptr, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    bool found = HeapTupleIsValid(tuple);
    if (found) {
        auto *form = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple));
        TupleDesc desc = RelationGetDescr(rel);
        facts->type = form->tgtype;
        facts->enabled = form->tgenabled;
        facts->function = form->tgfoid;
        facts->has_when = !heap_attisnull(tuple, Anum_pg_trigger_tgqual, desc);
        facts->has_old_table = !heap_attisnull(tuple, Anum_pg_trigger_tgoldtable, desc);
        facts->has_new_table = !heap_attisnull(tuple, Anum_pg_trigger_tgnewtable, desc);
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return found;
}

void drop_trigger(Oid relid, const char *name)
{
    Oid trigger = get_trigger_oid(relid, name, true);
    if (!OidIsValid(trigger))
        return;
    ObjectAddress address;
    ObjectAddressSet(address, TriggerRelationId, trigger);
    performDeletion(&address, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
}

// Parents through pg_inherits (partition or plain inheritance), transitively.
List *inheritance_ancestors(Oid relid)
{
    List *result = NIL;
    List *pending = list_make1_oid(relid);
    Relation rel = table_open(InheritsRelationId, AccessShareLock);
    while (pending != NIL) {
        Oid child = linitial_oid(pending);
        pending = list_delete_first(pending);
        ScanKeyData key;
        ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber, F_OIDEQ,
                    ObjectIdGetDatum(child));
        SysScanDesc scan =
            systable_beginscan(rel, InheritsRelidSeqnoIndexId, true, nullptr, 1, &key);
        HeapTuple tuple;
        while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
            Oid parent = reinterpret_cast<Form_pg_inherits>(GETSTRUCT(tuple))->inhparent;
            if (!list_member_oid(result, parent)) {
                result = lappend_oid(result, parent);
                pending = lappend_oid(pending, parent);
            }
        }
        systable_endscan(scan);
    }
    table_close(rel, AccessShareLock);
    return result;
}

bool relation_exists(Oid relid)
{
    return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid));
}

bool has_prefix(const char *name, const char *prefix)
{
    return strncmp(name, prefix, strlen(prefix)) == 0;
}

// The origin a statement trigger of ours (TRUNCATE, INSERT, UPDATE,
// DELETE: "fast_count_exact_<event>_<origin>") is named for, or InvalidOid.
Oid origin_of_statement_trigger(const char *trigger_name)
{
    char event[16];
    unsigned int oid = 0;
    char tail = 0;
    if (sscanf(trigger_name, "fast_count_exact_%15[a-z]_%u%c", event, &oid, &tail) == 2)
        return oid;
    return InvalidOid;
}

// The table a trigger of ours is named for, or InvalidOid.
Oid table_named_by(const char *trigger_name)
{
    unsigned int oid = 0;
    char tail = 0;
    Oid origin = origin_of_statement_trigger(trigger_name);
    if (OidIsValid(origin))
        return origin;
    if (sscanf(trigger_name, "fast_count_exact_%u%c", &oid, &tail) == 1)
        return oid;
    return InvalidOid;
}

char *statement_trigger_name(Oid origin, int16 event)
{
    const char *word = event == TRIGGER_TYPE_INSERT   ? "insert"
                       : event == TRIGGER_TYPE_UPDATE ? "update"
                                                      : "delete";
    return psprintf("%s%s_%u", kTriggerPrefix, word, origin);
}

// Whether origin counts ordinary statements with statement triggers (its
// row trigger then fires only in replica sessions: logical replication's
// apply, which fires no statement triggers). Not for a partition: a write
// through its parent fires the parent's statement triggers, not its own.
bool counts_statements(Oid origin)
{
    return !get_rel_relispartition(origin);
}

// Whether origin's row trigger says that it does: it fires on replica only.
bool has_statement_triggers(Oid origin, bool *update)
{
    TriggerFacts facts;
    if (!trigger_facts(origin, row_trigger_name(origin), &facts))
        return false;
    *update = TRIGGER_FOR_UPDATE(facts.type);
    return facts.enabled == TRIGGER_FIRES_ON_REPLICA;
}

// The firing of each target's name trigger becomes firing, unless the
// trigger is disabled (that is reported, not undone: trigger_problem()).
void set_firing(List *targets, const char *name, char firing)
{
    bool changed = false;
    ListCell *lc;
    foreach (lc, targets) {
        Oid target = lfirst_oid(lc);
        TriggerFacts facts;
        if (!trigger_facts(target, name, &facts) || facts.enabled == TRIGGER_DISABLED ||
            facts.enabled == firing)
            continue;
        Relation rel = table_open(target, ShareRowExclusiveLock);
        EnableDisableTriggerNew(rel, name, firing, false, false, ShareRowExclusiveLock);
        table_close(rel, NoLock);
        changed = true;
    }
    if (changed)
        CommandCounterIncrement();
}

// origin's statement triggers on target (origin itself or a partition):
// created, or replaced when a trigger of that name is something else.
void ensure_statement_triggers(Oid origin, Oid target, bool update)
{
    for (int16 event : kStatementEvents) {
        if (event == TRIGGER_TYPE_UPDATE && !update)
            continue;
        char *name = statement_trigger_name(origin, event);
        TriggerFacts facts;
        if (!trigger_facts(target, name, &facts)) {
            create_trigger(target, name, Shape::kStatement, event, TRIGGER_FIRES_ON_ORIGIN);
            continue;
        }
        bool right = facts.type == event && facts.function == trigger_function(kRowFunction) &&
                     !facts.has_when && facts.has_old_table == (event != TRIGGER_TYPE_INSERT) &&
                     facts.has_new_table == (event != TRIGGER_TYPE_DELETE);
        if (!right)
            create_trigger(target, name, Shape::kStatement, event, TRIGGER_FIRES_ON_ORIGIN, true);
    }
}

void drop_statement_triggers(Oid origin, Oid target)
{
    for (int16 event : kStatementEvents)
        drop_trigger(target, statement_trigger_name(origin, event));
}

// ALTER TABLE subcommands that change neither which rows a table holds nor
// how a stored predicate reads them.
bool harmless(const AlterTableCmd *cmd)
{
    switch (cmd->subtype) {
    case AT_AddColumn:
    case AT_AddColumnRecurse:
    case AT_ColumnDefault:
    case AT_CookedColumnDefault:
    case AT_DropNotNull:
    case AT_SetNotNull:
    case AT_CheckNotNull:
    case AT_SetStatistics:
    case AT_SetOptions:
    case AT_ResetOptions:
    case AT_SetStorage:
    case AT_SetCompression:
    case AT_AddIndex:
    case AT_ReAddIndex:
    case AT_AddConstraint:
    case AT_AddConstraintRecurse:
    case AT_ReAddConstraint:
    case AT_ReAddDomainConstraint:
    case AT_AlterConstraint:
    case AT_ValidateConstraint:
    case AT_ValidateConstraintRecurse:
    case AT_AddIndexConstraint:
    case AT_DropConstraint:
    case AT_DropConstraintRecurse:
    case AT_ReAddComment:
    case AT_AlterColumnGenericOptions:
    case AT_ChangeOwner:
    case AT_ClusterOn:
    case AT_DropCluster:
    case AT_SetLogged:
    case AT_SetAccessMethod:
    case AT_SetTableSpace:
    case AT_SetRelOptions:
    case AT_ResetRelOptions:
    case AT_ReplaceRelOptions:
    case AT_EnableRule:
    case AT_EnableAlwaysRule:
    case AT_EnableReplicaRule:
    case AT_DisableRule:
    case AT_AddOf:
    case AT_DropOf:
    case AT_ReplicaIdentity:
    case AT_GenericOptions:
    case AT_AddIdentity:
    case AT_SetIdentity:
    case AT_DropIdentity:
    case AT_ReAddStatistics:
        return true;
    case AT_EnableTrig:
    case AT_EnableAlwaysTrig:
    case AT_EnableReplicaTrig:
    case AT_DisableTrig:
        // Other triggers are none of our business.
        return cmd->name != nullptr && !has_prefix(cmd->name, kTriggerPrefix);
    default:
        return false;
    }
}

List *exact_tables()
{
    List *tables = NIL;
    ListCell *lc;
    foreach (lc, exact_store::exact_entries())
        tables = list_append_unique_oid(tables,
                                        static_cast<exact_store::ExactEntry *>(lfirst(lc))->table);
    return tables;
}

// Tables whose exact entries an ALTER TABLE of relid may affect.
List *affected_by_alter(Oid relid, const AlterTableStmt *stmt)
{
    List *affected = list_concat_unique_oid(list_make1_oid(relid), inheritance_ancestors(relid));
    affected = list_concat_unique_oid(affected, find_all_inheritors(relid, NoLock, nullptr));
    ListCell *lc;
    foreach (lc, stmt->cmds) {
        auto *cmd = lfirst_node(AlterTableCmd, lc);
        if (cmd->subtype == AT_AttachPartition && cmd->def != nullptr &&
            IsA(cmd->def, PartitionCmd)) {
            // A table that becomes a partition: a write through its new
            // parent fires none of its statement triggers.
            Oid attached = RangeVarGetRelid(castNode(PartitionCmd, cmd->def)->name, NoLock, true);
            if (OidIsValid(attached))
                affected = list_concat_unique_oid(affected,
                                                  find_all_inheritors(attached, NoLock, nullptr));
        }
        if (cmd->subtype == AT_AddInherit && cmd->def != nullptr && IsA(cmd->def, RangeVar)) {
            Oid parent = RangeVarGetRelid(castNode(RangeVar, cmd->def), NoLock, true);
            if (OidIsValid(parent)) {
                affected = list_append_unique_oid(affected, parent);
                affected = list_concat_unique_oid(affected, inheritance_ancestors(parent));
            }
        }
    }
    return affected;
}

void on_alter_table_start(AlterTableStmt *stmt)
{
    List *tables = exact_tables();
    if (tables == NIL)
        return;
    bool all_harmless = true;
    ListCell *lc;
    foreach (lc, stmt->cmds)
        all_harmless = all_harmless && harmless(lfirst_node(AlterTableCmd, lc));
    if (all_harmless)
        return;
    // ACCESS SHARE before any key lock: the order TRUNCATE (and the worker)
    // take table and key locks in.
    Oid relid = RangeVarGetRelid(stmt->relation, AccessShareLock, true);
    if (!OidIsValid(relid))
        return;
    List *affected = affected_by_alter(relid, stmt);
    List *marked = NIL;
    foreach (lc, affected)
        if (list_member_oid(tables, lfirst_oid(lc)))
            marked = lappend_oid(marked, lfirst_oid(lc));
    mark_rederive(marked, nullptr);
}

// Our triggers stay while an exact query needs them.
void refuse_if_ours(const char *trigger_name, const char *action)
{
    if (trigger_name == nullptr || !has_prefix(trigger_name, kTriggerPrefix))
        return;
    Oid table = table_named_by(trigger_name);
    if (!OidIsValid(table) || exact_store::exact_entries(table) == NIL)
        return;
    ereport(ERROR,
            (errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
             errmsg("cannot %s trigger \"%s\"", action, trigger_name),
             errdetail("fast_count keeps the exact counts of queries over table \"%s\" with it.",
                       get_rel_name(table) ? get_rel_name(table) : "(dropped)"),
             errhint("Unregister those queries with fast_count_unregister(), or register them "
                     "with mode => 'periodic'.")));
}

// Relations named by the commands of a ddl_command_end event.
List *commanded_relations()
{
    return event_trigger_reads::oids(
        "SELECT DISTINCT objid FROM pg_catalog.pg_event_trigger_ddl_commands() "
        "WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass",
        "the DDL commands");
}

// Names of the triggers a sql_drop event dropped.
List *dropped_trigger_names()
{
    List *identities = event_trigger_reads::texts(
        "SELECT object_identity FROM pg_catalog.pg_event_trigger_dropped_objects() "
        "WHERE classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass",
        "the dropped objects");
    ListCell *lc;
    foreach (lc, identities) {
        // "name on schema.table"; our names need no quoting.
        char *space = strchr(static_cast<char *>(lfirst(lc)), ' ');
        if (space != nullptr)
            *space = '\0';
    }
    return identities;
}

// New partitions (or attached subtrees) get the TRUNCATE triggers of every
// exact origin above them; new plain-inheritance children change what
// their parents' queries read.
void on_relations_created_or_altered(List *relids, List *tables, bool created)
{
    List *marked = NIL;
    ListCell *lc;
    foreach (lc, relids) {
        Oid relid = lfirst_oid(lc);
        if (!relation_exists(relid))
            continue;
        char relkind = get_rel_relkind(relid);
        if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
            continue;
        ListCell *lc2;
        if (get_rel_relispartition(relid) || relkind == RELKIND_PARTITIONED_TABLE) {
            foreach (lc2, self_and_ancestors(relid)) {
                Oid origin = lfirst_oid(lc2);
                if (!list_member_oid(tables, origin))
                    continue;
                ListCell *lc3;
                foreach (lc3, find_all_inheritors(relid, NoLock, nullptr)) {
                    Oid target = lfirst_oid(lc3);
                    char *name = truncate_trigger_name(origin);
                    if (!OidIsValid(get_trigger_oid(target, name, true)))
                        create_trigger(target, name, Shape::kTruncate, 0, TRIGGER_FIRES_ALWAYS);
                    bool update = false;
                    if (has_statement_triggers(origin, &update) && target != origin) {
                        ensure_statement_triggers(origin, target, update);
                        // The clone of the row trigger fires on replica only there too.
                        set_firing(list_make1_oid(target), row_trigger_name(origin),
                                   TRIGGER_FIRES_ON_REPLICA);
                    }
                }
            }
        }
        if (created && !get_rel_relispartition(relid)) {
            foreach (lc2, inheritance_ancestors(relid))
                if (list_member_oid(tables, lfirst_oid(lc2)))
                    marked = list_append_unique_oid(marked, lfirst_oid(lc2));
        }
    }
    mark_rederive(marked, nullptr);
}

// A partition detached (not CONCURRENTLY: then it is locked) keeps no
// TRUNCATE trigger of ours for an origin that is no longer above it.
void drop_detached_truncate_triggers(AlterTableStmt *stmt)
{
    ListCell *lc;
    foreach (lc, stmt->cmds) {
        auto *cmd = lfirst_node(AlterTableCmd, lc);
        if (cmd->subtype != AT_DetachPartition || cmd->def == nullptr ||
            !IsA(cmd->def, PartitionCmd))
            continue;
        auto *partition = castNode(PartitionCmd, cmd->def);
        if (partition->concurrent)
            continue;
        Oid detached = RangeVarGetRelid(partition->name, NoLock, true);
        if (!OidIsValid(detached) || !CheckRelationOidLockedByMe(detached, AccessExclusiveLock, false))
            continue;
        List *above = self_and_ancestors(detached);
        ListCell *lc2;
        foreach (lc2, find_all_inheritors(detached, NoLock, nullptr)) {
            Oid relid = lfirst_oid(lc2);
            Relation rel = table_open(TriggerRelationId, AccessShareLock);
            ScanKeyData key;
            ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
                        ObjectIdGetDatum(relid));
            SysScanDesc scan =
                systable_beginscan(rel, TriggerRelidNameIndexId, true, nullptr, 1, &key);
            List *stale = NIL;
            HeapTuple tuple;
            while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
                const char *name = NameStr(reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple))->tgname);
                Oid origin = origin_of_statement_trigger(name);
                if (OidIsValid(origin) && !list_member_oid(above, origin))
                    stale = lappend(stale, pstrdup(name));
            }
            systable_endscan(scan);
            table_close(rel, AccessShareLock);
            ListCell *lc3;
            foreach (lc3, stale)
                drop_trigger(relid, static_cast<char *>(lfirst(lc3)));
        }
    }
}

void try_follow_text(const pg_uuid_t &key)
{
    ErrorData *error = restricted::try_subtransaction(true, [&](MemoryContext) {
        fault::point(fault::kFollowText);
        (void) follow_text(key, true);
    });
    if (error != nullptr)
        ereport(DEBUG1, (errmsg("fast_count: exact query does not read yet: %s", error->message)));
}

// Entries over the relations a DDL command named (or over tables that are
// gone, which a CREATE TABLE may bring back) follow their text when it now
// reads as another key; in a subtransaction each, so that nothing here can
// fail the DDL.
void follow_texts(List *relids)
{
    List *affected = NIL;
    ListCell *lc;
    foreach (lc, relids) {
        Oid relid = lfirst_oid(lc);
        if (!relation_exists(relid))
            continue;
        affected = list_append_unique_oid(affected, relid);
        affected = list_concat_unique_oid(affected, inheritance_ancestors(relid));
        affected = list_concat_unique_oid(affected, find_all_inheritors(relid, NoLock, nullptr));
    }
    List *keys = NIL;
    foreach (lc, exact_store::exact_entries()) {
        auto *entry = static_cast<exact_store::ExactEntry *>(lfirst(lc));
        if (list_member_oid(affected, entry->table) || !relation_exists(entry->table)) {
            auto *key = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
            *key = entry->key;
            keys = lappend(keys, key);
        }
    }
    foreach (lc, keys)
        try_follow_text(*static_cast<pg_uuid_t *>(lfirst(lc)));
}

} // namespace

char *row_trigger_name(Oid table)
{
    return psprintf("%s%u", kTriggerPrefix, table);
}

char *truncate_trigger_name(Oid origin)
{
    return psprintf("%struncate_%u", kTriggerPrefix, origin);
}

bool lock_table_and_partitions(Oid table, LOCKMODE mode, bool wait)
{
    if (wait) {
        LockRelationOid(table, mode);
        if (get_rel_relkind(table) == RELKIND_PARTITIONED_TABLE)
            (void) find_all_inheritors(table, mode, nullptr);
        return true;
    }
    if (!ConditionalLockRelationOid(table, mode))
        return false;
    if (get_rel_relkind(table) != RELKIND_PARTITIONED_TABLE)
        return true;
    ListCell *lc;
    foreach (lc, find_all_inheritors(table, NoLock, nullptr)) {
        Oid relid = lfirst_oid(lc);
        if (relid != table && !ConditionalLockRelationOid(relid, mode))
            return false;  // (what was taken goes with the transaction)
    }
    return true;
}

bool counted_by_old_row_trigger(Oid table)
{
    if (!relation_exists(table) || !counts_statements(table))
        return false;
    TriggerFacts facts;
    return trigger_facts(table, row_trigger_name(table), &facts) &&
           facts.enabled == TRIGGER_FIRES_ALWAYS;
}

List *self_and_ancestors(Oid relid)
{
    List *result = list_make1_oid(relid);
    if (get_rel_relispartition(relid))
        result = list_concat(result, get_partition_ancestors(relid));
    return result;
}

void ensure_triggers(Oid table, const char *predicate, bool grouped)
{
    bool update_needed = predicate != nullptr || grouped;
    ListCell *lc;
    foreach (lc, exact_store::exact_entries(table)) {
        auto *entry = static_cast<exact_store::ExactEntry *>(lfirst(lc));
        // A query being re-derived may get a WHERE clause: keep UPDATE then.
        update_needed = update_needed || entry->predicate != nullptr ||
                        entry->group_by != nullptr ||
                        entry->state == exact_store::State::kRederive;
    }
    bool statements = counts_statements(table);
    char row_firing = statements ? TRIGGER_FIRES_ON_REPLICA : TRIGGER_FIRES_ALWAYS;
    char *row_name = row_trigger_name(table);
    int16 events = kRowEvents | (update_needed ? TRIGGER_TYPE_UPDATE : 0);
    TriggerFacts row;
    if (!trigger_facts(table, row_name, &row)) {
        create_trigger(table, row_name, Shape::kRow, events, row_firing);
    } else {
        int16 type = row.type;
        events = static_cast<int16>(events | (type & TRIGGER_TYPE_UPDATE));
        // Ours: AFTER ... FOR EACH ROW, our function, no WHEN; a trigger of
        // another role under its name is replaced.
        bool ours = TRIGGER_FOR_ROW(type) &&
                    (type & (TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_INSTEAD | TRIGGER_TYPE_TRUNCATE)) == 0 &&
                    row.function == trigger_function(kRowFunction) && !row.has_when &&
                    !row.has_old_table && !row.has_new_table;
        if (!ours || (type & events) != events)
            create_trigger(table, row_name, Shape::kRow, events, row_firing, true);
    }
    // Each row change is counted by exactly one of the two sets once this
    // transaction commits; no writer is in flight meanwhile (the caller
    // holds SHARE ROW EXCLUSIVE on the table and its partitions).
    List *targets = truncate_targets(table);
    foreach (lc, targets) {
        if (statements)
            ensure_statement_triggers(table, lfirst_oid(lc), (events & TRIGGER_TYPE_UPDATE) != 0);
        else
            drop_statement_triggers(table, lfirst_oid(lc));
    }
    set_firing(targets, row_name, row_firing);
    char *truncate_name = truncate_trigger_name(table);
    foreach (lc, targets) {
        Oid target = lfirst_oid(lc);
        if (!OidIsValid(get_trigger_oid(target, truncate_name, true)))
            create_trigger(target, truncate_name, Shape::kTruncate, 0, TRIGGER_FIRES_ALWAYS);
    }
}

const char *trigger_problem(Oid table)
{
    char *name = row_trigger_name(table);
    List *targets = truncate_targets(table);
    bool statements = counts_statements(table);
    bool update = false;
    ListCell *lc;
    foreach (lc, targets) {
        Oid relid = lfirst_oid(lc);
        TriggerFacts row;
        if (!trigger_facts(relid, name, &row))
            return psprintf("trigger \"%s\" is missing on table \"%s\"", name, get_rel_name(relid));
        if (row.enabled == TRIGGER_DISABLED)
            return psprintf("trigger \"%s\" is disabled on table \"%s\"", name, get_rel_name(relid));
        update = update || TRIGGER_FOR_UPDATE(row.type);
    }
    if (statements) {
        foreach (lc, targets) {
            Oid relid = lfirst_oid(lc);
            for (int16 event : kStatementEvents) {
                if (event == TRIGGER_TYPE_UPDATE && !update)
                    continue;
                char *statement_name = statement_trigger_name(table, event);
                TriggerFacts facts;
                if (!trigger_facts(relid, statement_name, &facts))
                    return psprintf("trigger \"%s\" is missing on table \"%s\"", statement_name,
                                    get_rel_name(relid));
                if (facts.enabled == TRIGGER_DISABLED)
                    return psprintf("trigger \"%s\" is disabled on table \"%s\"",
                                    statement_name, get_rel_name(relid));
            }
        }
    }
    char *truncate_name = truncate_trigger_name(table);
    foreach (lc, targets) {
        Oid relid = lfirst_oid(lc);
        TriggerFacts facts;
        if (trigger_facts(relid, truncate_name, &facts) && facts.enabled == TRIGGER_DISABLED)
            return psprintf("trigger \"%s\" is disabled on table \"%s\"", truncate_name,
                            get_rel_name(relid));
    }
    // A trigger enabled for the wrong sessions would count a row twice or
    // not at all: statement triggers fire for ordinary sessions, the row
    // trigger then for replica ones only (else for all), TRUNCATE triggers
    // for all (a replicated TRUNCATE too).
    set_firing(targets, truncate_name, TRIGGER_FIRES_ALWAYS);
    if (statements) {
        for (int16 event : kStatementEvents)
            set_firing(targets, statement_trigger_name(table, event), TRIGGER_FIRES_ON_ORIGIN);
    }
    set_firing(targets, name, statements ? TRIGGER_FIRES_ON_REPLICA : TRIGGER_FIRES_ALWAYS);
    return nullptr;
}

void drop_triggers_if_unused(Oid table)
{
    if (!relation_exists(table) || exact_store::exact_entries(table) != NIL)
        return;
    char *truncate_name = truncate_trigger_name(table);
    ListCell *lc;
    foreach (lc, truncate_targets(table)) {
        drop_trigger(lfirst_oid(lc), truncate_name);
        drop_statement_triggers(table, lfirst_oid(lc));
    }
    drop_trigger(table, row_trigger_name(table));
    CommandCounterIncrement();
}

void mark_rederive(List *tables, const char *why)
{
    if (tables == NIL)
        return;
    bool marked = false;
    ListCell *lc;
    foreach (lc, exact_store::exact_entries()) {
        auto *entry = static_cast<exact_store::ExactEntry *>(lfirst(lc));
        if (!list_member_oid(tables, entry->table))
            continue;
        key_lock::lock(entry->key);
        exact_store::remove_all(entry->key);
        exact_store::Change change = exact_store::Change().to_state(exact_store::State::kRederive);
        if (why != nullptr)
            change.failed(why, GetCurrentTimestamp());
        else
            change.clearing_error();
        exact_store::update(entry->key, change);
        if (relation_exists(entry->table))
            CacheInvalidateRelcacheByRelid(entry->table);
        marked = true;
    }
    if (marked)
        worker_control::worker_needed_at_commit();
}

} // namespace fast_count::exact_internal

namespace fast_count::exact_mode {

void relations_dropped(List *relids)
{
    using namespace exact_internal;
    if (!exact_store::available())
        return;
    List *tables = exact_tables();
    if (tables == NIL)
        return;
    List *gone = NIL;
    List *changed = NIL;
    ListCell *lc;
    foreach (lc, relids)
        if (list_member_oid(tables, lfirst_oid(lc)))
            gone = lappend_oid(gone, lfirst_oid(lc));
    foreach (lc, dropped_trigger_names()) {
        Oid table = table_named_by(static_cast<char *>(lfirst(lc)));
        if (list_member_oid(tables, table) && !list_member_oid(relids, table))
            changed = list_append_unique_oid(changed, table);
    }
    mark_rederive(gone, "a relation the query reads was dropped");
    mark_rederive(changed, nullptr);
}

} // namespace fast_count::exact_mode

using namespace fast_count;
using namespace fast_count::exact_internal;

// ddl_command_start for ALTER TABLE, ALTER TRIGGER, DROP TRIGGER.
FAST_COUNT_FUNCTION(fast_count_exact_on_ddl_start)
{
    event_trigger_reads::require_event_trigger(fcinfo);
    if (!exact_store::available())
        PG_RETURN_NULL();
    auto *data = reinterpret_cast<EventTriggerData *>(fcinfo->context);
    Node *tree = data->parsetree;
    if (IsA(tree, AlterTableStmt)) {
        on_alter_table_start(castNode(AlterTableStmt, tree));
    } else if (IsA(tree, RenameStmt)) {
        auto *stmt = castNode(RenameStmt, tree);
        if (stmt->renameType == OBJECT_TRIGGER)
            refuse_if_ours(stmt->subname, "rename");
    } else if (IsA(tree, DropStmt)) {
        auto *stmt = castNode(DropStmt, tree);
        if (stmt->removeType == OBJECT_TRIGGER) {
            ListCell *lc;
            foreach (lc, stmt->objects) {
                List *name = castNode(List, lfirst(lc));
                refuse_if_ours(strVal(llast(name)), "drop");
            }
        }
    }
    PG_RETURN_NULL();
}

// ddl_command_end for CREATE TABLE and ALTER TABLE.
FAST_COUNT_FUNCTION(fast_count_exact_on_ddl_end)
{
    event_trigger_reads::require_event_trigger(fcinfo);
    if (!exact_store::available())
        PG_RETURN_NULL();
    List *tables = exact_tables();
    if (tables == NIL)
        PG_RETURN_NULL();
    auto *data = reinterpret_cast<EventTriggerData *>(fcinfo->context);
    List *relids = commanded_relations();
    on_relations_created_or_altered(relids, tables, data->tag == CMDTAG_CREATE_TABLE);
    if (data->parsetree != nullptr && IsA(data->parsetree, AlterTableStmt))
        drop_detached_truncate_triggers(castNode(AlterTableStmt, data->parsetree));
    follow_texts(relids);
    PG_RETURN_NULL();
}
