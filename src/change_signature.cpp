#include "change_signature.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "lib/stringinfo.h"
#include "pgstat.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace fast_count {

namespace {

struct TableState {
    Oid relid;
    Oid relfilenode;
    int64 inserted;
    int64 updated;
    int64 deleted;
};

int compare_oids(const ListCell *a, const ListCell *b)
{
    Oid x = lfirst_oid(a);
    Oid y = lfirst_oid(b);
    return x < y ? -1 : (x > y ? 1 : 0);
}

} // namespace

bytea *change_signature(const QueryIdentity *identity)
{
    // Tables that stay the same say nothing about a result that follows the
    // clock or user code: such a query is counted at every refresh.
    if (!pgstat_track_counts || identity->time_dependent)
        return nullptr;

    // The tables read, with every partition or inheritance child.
    List *relids = NIL;
    ListCell *lc;
    foreach (lc, identity->tables) {
        Oid relid = lfirst_oid(lc);
        char kind = get_rel_relkind(relid);
        if (kind == RELKIND_FOREIGN_TABLE)
            return nullptr;
        if (kind == RELKIND_VIEW || kind == '\0')
            continue;  // a view's tables are in the list themselves
        List *family = find_all_inheritors(relid, NoLock, nullptr);
        ListCell *member;
        foreach (member, family) {
            if (get_rel_relkind(lfirst_oid(member)) == RELKIND_FOREIGN_TABLE)
                return nullptr;
            relids = list_append_unique_oid(relids, lfirst_oid(member));
        }
    }
    list_sort(relids, compare_oids);

    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfoSpaces(&buf, VARHDRSZ);
    foreach (lc, relids) {
        TableState state;
        memset(&state, 0, sizeof(state));
        state.relid = lfirst_oid(lc);
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(state.relid));
        if (HeapTupleIsValid(tuple)) {
            state.relfilenode = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relfilenode;
            ReleaseSysCache(tuple);
        }
        PgStat_StatTabEntry *stats = pgstat_fetch_stat_tabentry(state.relid);
        if (stats != nullptr) {
            state.inserted = stats->tuples_inserted;
            state.updated = stats->tuples_updated;
            state.deleted = stats->tuples_deleted;
        }
        appendBinaryStringInfo(&buf, reinterpret_cast<const char *>(&state), sizeof(state));
    }
    auto *signature = reinterpret_cast<bytea *>(buf.data);
    SET_VARSIZE(signature, buf.len);
    return signature;
}

bool same_signature(const bytea *a, const bytea *b)
{
    if (a == nullptr || b == nullptr)
        return false;
    return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
           memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

} // namespace fast_count
