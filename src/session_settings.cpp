#include "session_settings.hpp"

extern "C" {
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
}

#include <cstdlib>

namespace fast_count::session_settings {

namespace {

// The PostgreSQL 15 settings that cannot change the rows a read-only SELECT
// returns, reviewed one by one from pg_settings (grouped by its category).
// Planner settings choose among plans of the same result; resources,
// timeouts and logging change whether and how fast a query runs, not its
// rows; preset options are fixed for the server. Not listed, so part of a
// count's meaning: anything that changes how values are read, compared,
// computed or printed (DateStyle, IntervalStyle, TimeZone,
// timezone_abbreviations, lc_*, default_text_search_config, array_nulls,
// extra_float_digits, bytea_output, xmloption, xmlbinary,
// standard_conforming_strings, backslash_quote, transform_null_equals,
// quote_all_identifiers, client_encoding, gin_fuzzy_search_limit, ...), which
// rows are visible (row_security, session_replication_role,
// restrict_nonsystem_relation_kind, zero_damaged_pages,
// ignore_checksum_failure), what libraries a session loads, search_path —
// and every setting missing here because this list does not know it.
// role and session_authorization are listed because the role is handled on
// its own (the memo compares it; queries that run user code key on it).
const char *const kNeutral[] = {
    // Autovacuum
    "autovacuum", "autovacuum_analyze_scale_factor", "autovacuum_analyze_threshold",
    "autovacuum_freeze_max_age", "autovacuum_max_workers",
    "autovacuum_multixact_freeze_max_age", "autovacuum_naptime", "autovacuum_vacuum_cost_delay",
    "autovacuum_vacuum_cost_limit", "autovacuum_vacuum_insert_scale_factor",
    "autovacuum_vacuum_insert_threshold", "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_threshold",
    // Client Connection Defaults
    "lc_messages", "dynamic_library_path", "jit_provider", "shared_preload_libraries",
    "check_function_bodies", "client_min_messages", "default_table_access_method",
    "default_tablespace", "default_toast_compression", "default_transaction_deferrable",
    "default_transaction_isolation", "default_transaction_read_only", "gin_pending_list_limit",
    "idle_in_transaction_session_timeout", "idle_session_timeout", "lock_timeout",
    "statement_timeout", "temp_tablespaces", "transaction_deferrable", "transaction_isolation",
    "transaction_read_only", "vacuum_failsafe_age", "vacuum_freeze_min_age",
    "vacuum_freeze_table_age", "vacuum_multixact_failsafe_age",
    "vacuum_multixact_freeze_min_age", "vacuum_multixact_freeze_table_age",
    // Connections and Authentication
    "authentication_timeout", "db_user_namespace", "krb_caseins_users", "krb_server_keyfile",
    "password_encryption", "bonjour", "bonjour_name", "client_connection_check_interval",
    "listen_addresses", "max_connections", "port", "superuser_reserved_connections",
    "tcp_keepalives_count", "tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_user_timeout",
    "unix_socket_directories", "unix_socket_group", "unix_socket_permissions", "ssl",
    "ssl_ca_file", "ssl_cert_file", "ssl_ciphers", "ssl_crl_dir", "ssl_crl_file",
    "ssl_dh_params_file", "ssl_ecdh_curve", "ssl_key_file", "ssl_max_protocol_version",
    "ssl_min_protocol_version", "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload", "ssl_prefer_server_ciphers",
    // Developer Options
    "allow_in_place_tablespaces", "allow_system_table_mods", "backtrace_functions",
    "debug_discard_caches", "force_parallel_mode", "ignore_invalid_pages",
    "ignore_system_indexes", "jit_debugging_support", "jit_dump_bitcode", "jit_expressions",
    "jit_profiling_support", "jit_tuple_deforming", "post_auth_delay", "pre_auth_delay",
    "remove_temp_files_after_crash", "trace_notify", "trace_recovery_messages", "trace_sort",
    "wal_consistency_checking",
    // Error Handling
    "data_sync_retry", "exit_on_error", "recovery_init_sync_method", "restart_after_crash",
    // File Locations
    "config_file", "data_directory", "extension_destdir", "external_pid_file", "hba_file",
    "ident_file",
    // Not shown by pg_settings (default_with_oids and ssl_renegotiation_limit
    // accept only their defaults)
    "debug_deadlocks", "default_with_oids", "is_superuser", "optimize_bounded_sort", "role", "seed",
    "session_authorization", "ssl_renegotiation_limit", "trace_lock_oidmin", "trace_lock_table", "trace_locks",
    "trace_lwlocks", "trace_syncscan", "trace_userlocks", "wal_debug",
    // Lock Management
    "deadlock_timeout", "max_locks_per_transaction", "max_pred_locks_per_page",
    "max_pred_locks_per_relation", "max_pred_locks_per_transaction",
    // Preset Options (in_hot_standby differs on a standby, which shares keys)
    "block_size", "data_checksums", "data_directory_mode", "debug_assertions", "in_hot_standby",
    "integer_datetimes", "max_function_args", "max_identifier_length", "max_index_keys",
    "segment_size", "server_version", "server_version_num", "shared_memory_size",
    "shared_memory_size_in_huge_pages", "ssl_library", "wal_block_size", "wal_segment_size",
    // Query Tuning
    "geqo", "geqo_effort", "geqo_generations", "geqo_pool_size", "geqo_seed",
    "geqo_selection_bias", "geqo_threshold", "constraint_exclusion", "cursor_tuple_fraction",
    "default_statistics_target", "from_collapse_limit", "jit", "join_collapse_limit",
    "plan_cache_mode", "recursive_worktable_factor", "cpu_index_tuple_cost",
    "cpu_operator_cost", "cpu_tuple_cost", "effective_cache_size", "jit_above_cost",
    "jit_inline_above_cost", "jit_optimize_above_cost", "min_parallel_index_scan_size",
    "min_parallel_table_scan_size", "parallel_setup_cost", "parallel_tuple_cost",
    "random_page_cost", "seq_page_cost", "enable_async_append", "enable_bitmapscan",
    "enable_gathermerge", "enable_hashagg", "enable_hashjoin", "enable_incremental_sort",
    "enable_indexonlyscan", "enable_indexscan", "enable_material", "enable_memoize",
    "enable_mergejoin", "enable_nestloop", "enable_parallel_append", "enable_parallel_hash",
    "enable_partition_pruning", "enable_partitionwise_aggregate", "enable_partitionwise_join",
    "enable_seqscan", "enable_sort", "enable_tidscan",
    // Replication
    "synchronous_standby_names", "vacuum_defer_cleanup_age", "max_replication_slots",
    "max_slot_wal_keep_size", "max_wal_senders", "output_plugin_libraries",
    "track_commit_timestamp", "wal_keep_size", "wal_sender_timeout", "hot_standby",
    "hot_standby_feedback", "max_standby_archive_delay", "max_standby_streaming_delay",
    "primary_conninfo", "primary_slot_name", "promote_trigger_file", "recovery_min_apply_delay",
    "wal_receiver_create_temp_slot", "wal_receiver_status_interval", "wal_receiver_timeout",
    "wal_retrieve_retry_interval", "max_logical_replication_workers",
    "max_sync_workers_per_subscription",
    // Reporting and Logging
    "cluster_name", "update_process_title", "application_name", "debug_pretty_print",
    "debug_print_parse", "debug_print_plan", "debug_print_rewritten",
    "log_autovacuum_min_duration", "log_checkpoints", "log_connections", "log_disconnections",
    "log_duration", "log_error_verbosity", "log_hostname", "log_line_prefix", "log_lock_waits",
    "log_parameter_max_length", "log_parameter_max_length_on_error",
    "log_recovery_conflict_waits", "log_replication_commands", "log_statement",
    "log_temp_files", "log_timezone", "log_min_duration_sample", "log_min_duration_statement",
    "log_min_error_statement", "log_min_messages", "log_startup_progress_interval",
    "log_statement_sample_rate", "log_transaction_sample_rate", "event_source",
    "log_destination", "log_directory", "log_file_mode", "log_filename", "log_rotation_age",
    "log_rotation_size", "log_truncate_on_rotation", "logging_collector", "syslog_facility",
    "syslog_ident", "syslog_sequence_numbers", "syslog_split_messages",
    // Resource Usage
    "backend_flush_after", "effective_io_concurrency", "maintenance_io_concurrency",
    "max_parallel_maintenance_workers", "max_parallel_workers",
    "max_parallel_workers_per_gather", "max_worker_processes", "old_snapshot_threshold",
    "parallel_leader_participation", "bgwriter_delay", "bgwriter_flush_after",
    "bgwriter_lru_maxpages", "bgwriter_lru_multiplier", "vacuum_cost_delay",
    "vacuum_cost_limit", "vacuum_cost_page_dirty", "vacuum_cost_page_hit",
    "vacuum_cost_page_miss", "temp_file_limit", "max_files_per_process",
    "autovacuum_work_mem", "dynamic_shared_memory_type", "hash_mem_multiplier",
    "huge_page_size", "huge_pages", "logical_decoding_work_mem", "maintenance_work_mem",
    "max_prepared_transactions", "max_stack_depth", "min_dynamic_shared_memory",
    "shared_buffers", "shared_memory_type", "temp_buffers", "work_mem",
    // Statistics
    "track_activities", "track_activity_query_size", "track_counts", "track_functions",
    "track_io_timing", "track_wal_io_timing", "compute_query_id", "log_executor_stats",
    "log_parser_stats", "log_planner_stats", "log_statement_stats",
    // Version and Platform Compatibility (synchronize_seqscans changes row
    // order only, as the planner settings do)
    "escape_string_warning", "synchronize_seqscans",
    // Write-Ahead Log
    "archive_cleanup_command", "recovery_end_command", "restore_command", "archive_command",
    "archive_library", "archive_mode", "archive_timeout", "checkpoint_completion_target",
    "checkpoint_flush_after", "checkpoint_timeout", "checkpoint_warning", "max_wal_size",
    "min_wal_size", "recovery_prefetch", "wal_decode_buffer_size", "recovery_target",
    "recovery_target_action", "recovery_target_inclusive", "recovery_target_lsn",
    "recovery_target_name", "recovery_target_time", "recovery_target_timeline",
    "recovery_target_xid", "commit_delay", "commit_siblings", "fsync", "full_page_writes",
    "synchronous_commit", "wal_buffers", "wal_compression", "wal_init_zero", "wal_level",
    "wal_log_hints", "wal_recycle", "wal_skip_threshold", "wal_sync_method",
    "wal_writer_delay", "wal_writer_flush_after",
};

// Whole families of extension settings known not to change results: ours
// decide whether and how long a count is kept, never its value; contrib's
// auto_explain and pg_stat_statements only log and record what runs.
const char *const kNeutralPrefixes[] = {"fast_count.", "auto_explain.", "pg_stat_statements."};

int compare_names(const void *a, const void *b)
{
    return pg_strcasecmp(*static_cast<const char *const *>(a),
                         *static_cast<const char *const *>(b));
}

// kNeutral in name order (GUC names compare without case), sorted once.
const char **sorted_neutral()
{
    static const char *sorted[lengthof(kNeutral)];
    static bool ready = false;
    if (!ready) {
        memcpy(sorted, kNeutral, sizeof(kNeutral));
        qsort(sorted, lengthof(sorted), sizeof(sorted[0]), compare_names);
        ready = true;
    }
    return sorted;
}

bool is_neutral(const char *name)
{
    for (const char *prefix : kNeutralPrefixes)
        if (pg_strncasecmp(name, prefix, strlen(prefix)) == 0)
            return true;
    return bsearch(&name, sorted_neutral(), lengthof(kNeutral), sizeof(const char *),
                   compare_names) != nullptr;
}

bool is_placeholder(const config_generic *record)
{
    return (record->flags & GUC_CUSTOM_PLACEHOLDER) != 0;
}

// Can change within a backend after it started.
bool changes_in_backend(const config_generic *record)
{
    return record->context == PGC_USERSET || record->context == PGC_SUSET ||
           record->context == PGC_SIGHUP || is_placeholder(record);
}

// Set by (and restored for) a session.
bool session_variable(const config_generic *record)
{
    return record->context == PGC_USERSET || record->context == PGC_SUSET ||
           is_placeholder(record);
}

// The result-changing records of the GUC table, classified once per shape
// of the table. The table is an array of pointers sorted by name; it grows
// (and may move) when a placeholder or an extension's setting is added, and
// a placeholder is freed and replaced in its slot when its extension loads,
// so every use first checks that the array, its length and the slot of each
// cached record are unchanged.
struct Tracked {
    config_generic *record;
    int slot;
    bool watched;       // part of the fingerprint (can change in this backend)
    uint64 last;        // a scalar's value when the fingerprint was computed
    char *last_string;  // a string's value then (a copy: the setting's own
                        // memory may be freed and reused for another value)
};

config_generic **cached_table = nullptr;
int cached_count = -1;
Tracked *tracked = nullptr;  // in TopMemoryContext
int tracked_count = 0;
uint64 shape = 0;  // bumped by every rebuild; part of the fingerprint
// The fingerprint of the values in tracked[].last/last_string; reused while
// no watched value differs from them (a comparison is cheaper than a hash).
uint64 last_fingerprint = 0;
bool fingerprint_valid = false;

bool still_valid()
{
    if (tracked == nullptr || get_guc_variables() != cached_table ||
        GetNumConfigOptions() != cached_count)
        return false;
    for (int i = 0; i < tracked_count; i++)
        if (cached_table[tracked[i].slot] != tracked[i].record)
            return false;
    return true;
}

void rebuild()
{
    config_generic **table = get_guc_variables();
    int count = GetNumConfigOptions();
    auto *fresh = static_cast<Tracked *>(
        MemoryContextAlloc(TopMemoryContext, sizeof(Tracked) * (count > 0 ? count : 1)));
    int n = 0;
    for (int i = 0; i < count; i++) {
        if (!is_neutral(table[i]->name))
            fresh[n++] = Tracked{table[i], i, changes_in_backend(table[i]), 0, nullptr};
    }
    if (tracked != nullptr) {
        for (int i = 0; i < tracked_count; i++)
            if (tracked[i].last_string != nullptr)
                pfree(tracked[i].last_string);
        pfree(tracked);
    }
    fingerprint_valid = false;
    tracked = fresh;
    tracked_count = n;
    cached_table = table;
    cached_count = count;
    shape++;
}

void ensure_tracked()
{
    if (!still_valid())
        rebuild();
}

const char *string_value(const config_generic *record)
{
    const char *value = *reinterpret_cast<const config_string *>(record)->variable;
    return value != nullptr ? value : "";
}

bool at_default(const config_generic *record)
{
    // A placeholder lives on in a backend once anything set it (a RESET, or
    // the worker restoring another registration's settings, leaves it at
    // ''): empty, it is what a backend that never saw it has.
    if (is_placeholder(record))
        return string_value(record)[0] == '\0';
    switch (record->vartype) {
    case PGC_BOOL: {
        auto *conf = reinterpret_cast<const config_bool *>(record);
        return *conf->variable == conf->boot_val;
    }
    case PGC_INT: {
        auto *conf = reinterpret_cast<const config_int *>(record);
        return *conf->variable == conf->boot_val;
    }
    case PGC_REAL: {
        auto *conf = reinterpret_cast<const config_real *>(record);
        return *conf->variable == conf->boot_val;
    }
    case PGC_STRING: {
        auto *conf = reinterpret_cast<const config_string *>(record);
        return strcmp(string_value(record), conf->boot_val != nullptr ? conf->boot_val : "") == 0;
    }
    case PGC_ENUM: {
        auto *conf = reinterpret_cast<const config_enum *>(record);
        return *conf->variable == conf->boot_val;
    }
    }
    return false;
}

// The value as set_config_option() reads it back: base units, no show hook.
const char *value_text(const config_generic *record, bool boot)
{
    switch (record->vartype) {
    case PGC_BOOL: {
        auto *conf = reinterpret_cast<const config_bool *>(record);
        return (boot ? conf->boot_val : *conf->variable) ? "on" : "off";
    }
    case PGC_INT: {
        auto *conf = reinterpret_cast<const config_int *>(record);
        return psprintf("%d", boot ? conf->boot_val : *conf->variable);
    }
    case PGC_REAL: {
        auto *conf = reinterpret_cast<const config_real *>(record);
        return psprintf("%.17g", boot ? conf->boot_val : *conf->variable);
    }
    case PGC_STRING: {
        auto *conf = reinterpret_cast<const config_string *>(record);
        if (boot)
            return conf->boot_val != nullptr ? conf->boot_val : "";
        return string_value(record);
    }
    case PGC_ENUM: {
        auto *conf = const_cast<config_enum *>(reinterpret_cast<const config_enum *>(record));
        const char *text =
            config_enum_lookup_by_value(conf, boot ? conf->boot_val : *conf->variable);
        return text != nullptr ? text : "";
    }
    }
    return "";
}

inline uint64 mix(uint64 hash, uint64 value)
{
    hash ^= value + UINT64CONST(0x9e3779b97f4a7c15) + (hash << 6) + (hash >> 2);
    return hash;
}

config_generic *tracked_named(const char *name)
{
    for (int i = 0; i < tracked_count; i++)
        if (pg_strcasecmp(tracked[i].record->name, name) == 0)
            return tracked[i].record;
    return nullptr;
}

struct Applying {
    const char *name;
    const char *value;
};

void applying_context(void *arg)
{
    auto *applying = static_cast<Applying *>(arg);
    errcontext("restoring setting %s = '%s' of the registered query", applying->name,
               applying->value);
}

} // namespace

void append_key_text(StringInfo out)
{
    ensure_tracked();
    for (int i = 0; i < tracked_count; i++) {
        const config_generic *record = tracked[i].record;
        if (at_default(record))
            continue;
        appendStringInfo(out, "\n%s=", record->name);
        // Escaped so that no value can end one pair and forge another.
        const char *value = value_text(record, false);
        for (const char *p = value; *p; p++) {
            if (*p == '\\' || *p == '\n')
                appendStringInfoChar(out, '\\');
            appendStringInfoChar(out, *p);
        }
    }
}

namespace {

uint64 scalar_value(const config_generic *record)
{
    switch (record->vartype) {
    case PGC_BOOL:
        return *reinterpret_cast<const config_bool *>(record)->variable;
    case PGC_INT:
        return static_cast<uint32>(*reinterpret_cast<const config_int *>(record)->variable);
    case PGC_REAL: {
        double value = *reinterpret_cast<const config_real *>(record)->variable;
        uint64 bits;
        memcpy(&bits, &value, sizeof(bits));
        return bits;
    }
    case PGC_ENUM:
        return static_cast<uint32>(*reinterpret_cast<const config_enum *>(record)->variable);
    case PGC_STRING:
        break;
    }
    return 0;
}

// Also checks each slot, so that one pass over the tracked records does
// what ensure_tracked() and the comparison would do in two.
bool watched_values_unchanged()
{
    for (int i = 0; i < tracked_count; i++) {
        const Tracked &t = tracked[i];
        if (cached_table[t.slot] != t.record)
            return false;
        if (!t.watched)
            continue;
        if (t.record->vartype == PGC_STRING) {
            if (strcmp(string_value(t.record), t.last_string) != 0)
                return false;
        } else if (scalar_value(t.record) != t.last) {
            return false;
        }
    }
    return true;
}

} // namespace

uint64 fingerprint()
{
    if (fingerprint_valid && get_guc_variables() == cached_table &&
        GetNumConfigOptions() == cached_count && watched_values_unchanged())
        return last_fingerprint;
    ensure_tracked();

    fingerprint_valid = false;  // until every last value is in place
    uint64 hash = shape;
    for (int i = 0; i < tracked_count; i++) {
        Tracked &t = tracked[i];
        if (!t.watched)
            continue;
        if (t.record->vartype == PGC_STRING) {
            const char *value = string_value(t.record);
            char *copy = MemoryContextStrdup(TopMemoryContext, value);
            if (t.last_string != nullptr)
                pfree(t.last_string);
            t.last_string = copy;
            hash = mix(hash, hash_bytes_extended(reinterpret_cast<const unsigned char *>(value),
                                                 static_cast<int>(strlen(value)), i));
        } else {
            t.last = scalar_value(t.record);
            hash = mix(hash, t.last);
        }
    }
    last_fingerprint = hash;
    fingerprint_valid = true;
    return hash;
}

ArrayType *capture()
{
    ensure_tracked();
    Datum *items = static_cast<Datum *>(palloc(sizeof(Datum) * (tracked_count + 1)));
    int n = 0;
    for (int i = 0; i < tracked_count; i++) {
        const config_generic *record = tracked[i].record;
        if (!session_variable(record))
            continue;
        // An extension's setting at its default is recorded by name only:
        // where its library is not loaded, absent means the same.
        const char *item = strchr(record->name, '.') != nullptr && at_default(record)
                               ? record->name
                               : psprintf("%s=%s", record->name, value_text(record, false));
        // search_path first: it decides which relations the text names.
        if (pg_strcasecmp(record->name, "search_path") == 0 && n > 0) {
            items[n] = items[0];
            items[0] = CStringGetTextDatum(item);
            n++;
        } else {
            items[n++] = CStringGetTextDatum(item);
        }
    }
    return construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT);
}

void apply(ArrayType *captured)
{
    Datum *items;
    bool *nulls;
    int n;
    deconstruct_array(captured, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);

    Applying applying{nullptr, nullptr};
    ErrorContextCallback callback;
    callback.callback = applying_context;
    callback.arg = &applying;
    callback.previous = error_context_stack;
    error_context_stack = &callback;

    for (int i = 0; i < n; i++) {
        if (nulls[i])
            continue;
        char *item = TextDatumGetCString(items[i]);
        char *eq = strchr(item, '=');
        if (eq != nullptr)
            *eq = '\0';
        ensure_tracked();  // setting a placeholder may have grown the table
        config_generic *record = tracked_named(item);
        if (eq == nullptr) {
            // At its built-in default where it was captured: restore that,
            // unless this backend does not know the setting (its library is
            // not loaded here), where absent means the same.
            if (record == nullptr || is_placeholder(record))
                continue;
            applying = {item, value_text(record, true)};
        } else {
            applying = {item, eq + 1};
        }
        GucContext context =
            record != nullptr && record->context == PGC_SUSET ? PGC_SUSET : PGC_USERSET;
        (void) set_config_option(applying.name, applying.value, context, PGC_S_SESSION,
                                 GUC_ACTION_SAVE, true, ERROR, false);
    }
    error_context_stack = callback.previous;
}

} // namespace fast_count::session_settings
