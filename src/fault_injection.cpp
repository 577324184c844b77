#include "fault_injection.hpp"

extern "C" {
#include "postgres.h"

#include "utils/guc.h"
}

#include <cstring>

namespace fast_count::fault {

int armed = kNone;

namespace {

char *setting = nullptr;

// Index = Site.
const char *const kSiteNames[] = {
    "",           "allocator",  "pg_call",       "worker_refresh",   "worker_record",
    "exact_task", "exact_record", "settle",      "follow_text",      "restricted_scope",
    "callback",
};

int site_of(const char *name)
{
    if (name == nullptr)
        return kNone;
    for (int i = 0; i < static_cast<int>(lengthof(kSiteNames)); i++)
        if (strcmp(name, kSiteNames[i]) == 0)
            return i;
    return -1;
}

bool check_site(char **newval, void **, GucSource)
{
    if (site_of(*newval) >= 0)
        return true;
    GUC_check_errdetail("Unknown fault injection site \"%s\".", *newval);
    return false;
}

void assign_site(const char *newval, void *)
{
    int site = site_of(newval);
    armed = site > 0 ? site : kNone;
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
        "Makes one C++/PostgreSQL crossing of fast_count throw std::bad_alloc (for tests).", nullptr,
        &setting, "", PGC_SUSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, check_site,
        assign_site, nullptr);
}

} // namespace fast_count::fault
