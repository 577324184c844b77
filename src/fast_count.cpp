// Module entry: configuration, shared memory and the launcher when
// preloaded, the core's transaction callbacks, then each mode.
#include "catalog.hpp"
#include "exact/exact_mode.hpp"
#include "key_lock.hpp"
#include "pg/fault_injection.hpp"
#include "pg/transaction_callbacks.hpp"
#include "query_memo.hpp"
#include "settings.hpp"
#include "shared_index.hpp"
#include "shared_state.hpp"
#include "transparent_scan.hpp"
#include "worker_control.hpp"

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

namespace {

namespace callbacks = fast_count::transaction_callbacks;

// The core's share of the transaction callbacks, in this order: at commit
// still under the transaction's key locks, the shared index publishes
// before they go.
void register_core_callbacks()
{
    using callbacks::End;
    callbacks::on_transaction_end([](End end) {
        if (end == End::kPrepare)
            fast_count::shared_index::at_prepare();
        else
            fast_count::shared_index::at_transaction_end(end == End::kCommit);
    });
    callbacks::on_transaction_end(
        [](End end) { fast_count::worker_control::at_transaction_end(end == End::kCommit); });
    callbacks::on_transaction_end([](End) { fast_count::key_lock::at_transaction_end(); });
    callbacks::on_transaction_end([](End) { fast_count::query_memo::at_transaction_end(); });
    callbacks::on_subtransaction_end(fast_count::shared_index::at_subtransaction_end);
    callbacks::on_subtransaction_end(fast_count::key_lock::at_subtransaction_end);
    callbacks::on_relation_changed(fast_count::catalog::relation_changed);
    callbacks::on_relation_changed(fast_count::query_memo::relation_changed);
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
    register_core_callbacks();
    fast_count::exact_mode::init();  // its reader, worker task and callbacks
    callbacks::install();
    fast_count::transparent::init();  // transparent mode: planner hook, CustomScan
}
