#include "pg/fault_injection.hpp"

extern "C" {
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/varlena.h"
}

#include <cstring>

namespace fast_count::fault {

unsigned armed = 0;

namespace {

char *setting = nullptr;

// Index = Site.
const char *const kSiteNames[] = {
    "",           "allocator",  "pg_call",       "worker_refresh",   "worker_record",
    "exact_task", "exact_record", "settle",      "follow_text",      "restricted_scope",
    "callback",   "fold_group",
};

// The bits of a comma-separated list of names; false on an unknown name.
bool parse_sites(const char *value, unsigned *bits)
{
    *bits = 0;
    if (value == nullptr || value[0] == '\0')
        return true;
    char *copy = pstrdup(value);
    List *names = NIL;
    bool ok = SplitIdentifierString(copy, ',', &names);
    ListCell *lc;
    foreach (lc, names) {
        const char *name = static_cast<const char *>(lfirst(lc));
        int site = -1;
        for (int i = 1; i < static_cast<int>(lengthof(kSiteNames)); i++)
            if (strcmp(name, kSiteNames[i]) == 0)
                site = i;
        if (site < 0) {
            GUC_check_errdetail("Unknown fault injection site \"%s\".", name);
            ok = false;
            break;
        }
        *bits |= 1u << site;
    }
    list_free(names);
    pfree(copy);
    return ok;
}

bool check_sites(char **newval, void **extra, GucSource)
{
    unsigned bits;
    if (!parse_sites(*newval, &bits))
        return false;
    auto *saved = static_cast<unsigned *>(malloc(sizeof(unsigned)));
    if (saved == nullptr)
        return false;
    *saved = bits;
    *extra = saved;
    return true;
}

void assign_sites(const char *, void *extra)
{
    armed = extra != nullptr ? *static_cast<unsigned *>(extra) : 0;
}

} // namespace

void fail()
{
    throw std::bad_alloc();
}

void define_setting()
{
    DefineCustomStringVariable(
        "fast_count.inject_fault",
        "Makes the listed C++/PostgreSQL crossings of fast_count throw std::bad_alloc (for tests).", nullptr,
        &setting, "", PGC_SUSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, check_sites,
        assign_sites, nullptr);
}

} // namespace fast_count::fault
