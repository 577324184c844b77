#include "exact/exact_mode.hpp"

#include "exact/exact_deltas.hpp"
#include "exact/exact_fastpath.hpp"
#include "exact/exact_groups.hpp"
#include "exact/exact_reader.hpp"
#include "exact/exact_registration.hpp"
#include "exact/exact_triggers.hpp"
#include "exact/exact_worker.hpp"
#include "mode_registry.hpp"
#include "pg/transaction_callbacks.hpp"
#include "shared_state.hpp"

namespace fast_count::exact_mode {

void init()
{
    modes::add({"exact", exact_internal::read_count, exact_internal::read_established,
                exact_internal::run_worker_tasks, forget, exact_groups::describe});

    shared_state::add_user({exact_fastpath::shmem_size, exact_fastpath::shmem_request,
                            exact_fastpath::shmem_startup});

    namespace callbacks = transaction_callbacks;
    callbacks::before_commit(exact_deltas::before_commit);  // a writer's delta rows
    callbacks::on_transaction_end(exact_deltas::at_transaction_end);
    callbacks::on_transaction_end(exact_fastpath::at_transaction_end);  // marks what was published
    callbacks::on_transaction_end(exact_internal::triggers_at_transaction_end);
    callbacks::on_subtransaction_end(exact_deltas::at_subtransaction_end);
    callbacks::on_relation_changed(exact_internal::triggers_relation_changed);
    callbacks::on_relation_changed(exact_groups::relation_changed);
}

} // namespace fast_count::exact_mode
