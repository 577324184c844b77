// Module entry: configuration, shared memory and the launcher when
// preloaded, and the transaction callback that the layers share.
#include "exact_mode.hpp"
#include "fault_injection.hpp"
#include "key_lock.hpp"
#include "pg_boundary.hpp"
#include "query_memo.hpp"
#include "settings.hpp"
#include "shared_index.hpp"
#include "shared_state.hpp"
#include "transparent_scan.hpp"
#include "worker_control.hpp"

extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

namespace {

// These run at COMMIT, PREPARE and ABORT, where an ERROR is a PANIC: they
// neither allocate nor raise (no_throw() turns anything unexpected into a
// WARNING).
void on_transaction_event(XactEvent event, void *)
{
    const char *where;
    bool committed = false;
    bool prepared = false;
    switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
        where = "at commit";
        committed = true;
        break;
    case XACT_EVENT_PREPARE:
        where = "at prepare";
        prepared = true;
        break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
        where = "at abort";
        break;
    default:
        return;
    }
    fast_count::no_throw(where, [committed, prepared] {
        // At commit still under the transaction's key locks: publish before they go.
        if (prepared)
            fast_count::shared_index::at_prepare();
        else
            fast_count::shared_index::at_transaction_end(committed);
        fast_count::worker_control::at_transaction_end(committed);
        fast_count::key_lock::at_transaction_end();
        fast_count::query_memo::at_transaction_end();
    });
}

void on_subtransaction_event(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
        return;
    bool committed = event == SUBXACT_EVENT_COMMIT_SUB;
    fast_count::no_throw("at subtransaction end", [committed] {
        int level = GetCurrentTransactionNestLevel();
        fast_count::shared_index::at_subtransaction_end(committed, level);
        fast_count::key_lock::at_subtransaction_end(committed, level);
    });
}

} // namespace

void _PG_init(void)
{
    fast_count::settings::define_all(process_shared_preload_libraries_in_progress);
    fast_count::fault::define_setting();
    if (process_shared_preload_libraries_in_progress) {
        fast_count::shared_state::install_hooks();
        fast_count::worker_control::register_launcher();
    }
    RegisterXactCallback(on_transaction_event, nullptr);
    RegisterSubXactCallback(on_subtransaction_event, nullptr);
    fast_count::exact_mode::init();  // exact mode: xact/subxact/relcache callbacks
    fast_count::transparent::init();  // transparent mode: planner hook, CustomScan
}
