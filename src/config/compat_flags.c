/* compat_flags.c — the table of workerd compatibility flags and the date/flag checks
 * (host process). The table is data taken from workerd's compatibility-date.capnp: one row per
 * CompatibilityFlags field that has an enable or a disable flag. Keep it sorted as workerd's
 * file is (by field ordinal) so that updating it is a diff against a new workerd release.
 */
#include "config/compat_flags.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const pw_compat_flag_t compat_flags[] = {
    {"formdata_parser_supports_files", "formdata_parser_converts_files_to_strings", "2021-11-03", 0},
    {"fetch_refuses_unknown_protocols", "fetch_treats_unknown_protocols_as_http", "2021-11-10", 0},
    {"html_rewriter_treats_esi_include_as_void_tag", NULL, NULL, 0},
    {"durable_object_fetch_requires_full_url", "durable_object_fetch_allows_relative_url", "2021-11-10", 0},
    {"streams_byob_reader_detaches_buffer", "streams_byob_reader_does_not_detach_buffer", "2021-11-10", 0},
    {"streams_enable_constructors", "streams_disable_constructors", "2022-11-30", 0},
    {"workers_api_getters_setters_on_prototype", "workers_api_getters_setters_on_instance", "2022-01-31", 0},
    {"minimal_subrequests", "no_minimal_subrequests", "2022-04-05", 0},
    {"no_cots_on_external_fetch", "cots_on_external_fetch", "2022-03-08", 0},
    {"url_standard", "url_original", "2022-10-31", 0},
    {"global_navigator", "no_global_navigator", "2022-03-21", 0},
    {"capture_async_api_throws", "do_not_capture_async_api_throws", "2022-10-31", 0},
    {"r2_public_beta_bindings", "r2_internal_beta_bindings", NULL, 0},
    {"durable_object_alarms", NULL, NULL, 0},
    {"dont_substitute_null_on_type_error", "substitute_null_on_type_error", "2022-06-01", 0},
    {"transformstream_enable_standard_constructor", "transformstream_disable_standard_constructor", "2022-11-30", 0},
    {"r2_list_honor_include", NULL, "2022-08-04", 0},
    {"export_commonjs_default", "export_commonjs_namespace", "2022-10-31", 0},
    {"durable_object_rename", NULL, NULL, 1},
    {"web_socket_compression", "no_web_socket_compression", "2023-08-15", 0},
    {"nodejs_compat", "no_nodejs_compat", "2026-08-04", 0},
    {"tcp_sockets_support", NULL, NULL, 0},
    {"response_redirect_url_standard", "response_redirect_url_original", "2023-03-14", 0},
    {"experimental", NULL, NULL, 1},
    {"durable_object_get_existing", NULL, NULL, 1},
    {"http_headers_getsetcookie", "no_http_headers_getsetcookie", "2023-03-01", 0},
    {"dynamic_dispatch_tunnel_exceptions", "dynamic_dispatch_treat_exceptions_as_500", "2023-03-01", 0},
    {"service_binding_extra_handlers", NULL, NULL, 1},
    {"no_cf_botmanagement_default", "cf_botmanagement_default", "2023-08-01", 0},
    {"urlsearchparams_delete_has_value_arg", "no_urlsearchparams_delete_has_value_arg", "2023-07-01", 0},
    {"strict_compression_checks", "no_strict_compression_checks", "2023-08-01", 0},
    {"brotli_content_encoding", "no_brotli_content_encoding", "2024-04-29", 0},
    {"strict_crypto_checks", "no_strict_crypto_checks", "2023-08-01", 0},
    {"rtti_api", NULL, NULL, 1},
    {"webgpu", NULL, NULL, 1},
    {"crypto_preserve_public_exponent", "no_crypto_preserve_public_exponent", "2023-12-01", 0},
    {"vectorize_query_metadata_optional", "vectorize_query_original", "2023-11-08", 0},
    {"unsafe_module", NULL, NULL, 1},
    {"js_rpc", NULL, NULL, 1},
    {"no_global_importscripts", "global_importscripts", "2024-03-04", 0},
    {"nodejs_als", "no_nodejs_als", NULL, 0},
    {"queues_json_messages", "no_queues_json_messages", "2024-03-18", 0},
    {"python_workers", NULL, NULL, 0},
    {"fetcher_no_get_put_delete", "fetcher_has_get_put_delete", "2024-03-26", 0},
    {"unwrap_custom_thenables", "no_unwrap_custom_thenables", "2024-04-01", 0},
    {"rpc", "no_rpc", "2024-04-03", 0},
    {"internal_stream_byob_return_view", "internal_stream_byob_return_undefined", "2024-05-13", 0},
    {"blob_standard_mime_type", "blob_legacy_mime_type", "2024-06-03", 0},
    {"fetch_standard_url", "fetch_legacy_url", "2024-06-03", 0},
    {"nodejs_compat_v2", "no_nodejs_compat_v2", "2026-08-04", 0},
    {"global_fetch_strictly_public", "global_fetch_private_origin", NULL, 0},
    {"new_module_registry", "legacy_module_registry", NULL, 0},
    {"cache_option_enabled", "cache_option_disabled", "2024-11-11", 0},
    {"kv_direct_binding", NULL, NULL, 1},
    {"allow_custom_ports", "ignore_custom_ports", "2024-09-02", 0},
    {"increase_websocket_message_size", NULL, NULL, 1},
    {"internal_writable_stream_abort_clears_queue", "internal_writable_stream_abort_does_not_clear_queue", "2024-09-02", 0},
    {"python_workers_development", NULL, NULL, 1},
    {"nodejs_zlib", "no_nodejs_zlib", NULL, 0},
    {"replica_routing", NULL, NULL, 1},
    {"enable_d1_with_sessions_api", NULL, NULL, 1},
    {"handle_cross_request_promise_resolution", "no_handle_cross_request_promise_resolution", "2024-10-14", 0},
    {"set_tostring_tag", "do_not_set_tostring_tag", "2024-09-26", 0},
    {"upper_case_all_http_methods", "no_upper_case_all_http_methods", "2024-10-14", 0},
    {"python_external_packages", NULL, NULL, 0},
    {"disable_top_level_await_in_require", "enable_top_level_await_in_require", "2024-12-02", 0},
    {"fixup-transform-stream-backpressure", "original-transform-stream-backpressure", "2024-12-16", 0},
    {"tail_worker_user_spans", NULL, NULL, 1},
    {"cache_no_cache_enabled", "cache_no_cache_disabled", NULL, 0},
    {"python_workers_20250116", "no_python_workers_20250116", NULL, 0},
    {"request_cf_overrides_cache_rules", "no_request_cf_overrides_cache_rules", "2025-04-02", 0},
    {"memory_cache_delete", NULL, NULL, 1},
    {"unique_ctx_per_invocation", NULL, "2025-03-10", 0},
    {"nonclass_entrypoint_reuses_ctx_across_invocations", NULL, NULL, 0},
    {"queue_consumer_no_wait_for_wait_until", "queue_consumer_wait_for_wait_until", NULL, 0},
    {"nodejs_compat_populate_process_env", "nodejs_compat_do_not_populate_process_env", NULL, 0},
    {"cache_api_request_cf_overrides_cache_rules", "no_cache_api_request_cf_overrides_cache_rules", "2025-05-19", 0},
    {"disallow_importable_env", "allow_importable_env", NULL, 0},
    {"assets_navigation_prefers_asset_serving", "assets_navigation_has_no_effect", "2025-04-01", 0},
    {"cache_api_compat_flags", "no_cache_api_compat_flags", "2025-04-19", 0},
    {"python_workers_durable_objects", NULL, NULL, 1},
    {"streaming_tail_worker", NULL, NULL, 1},
    {"urlpattern_standard", "urlpattern_original", "2025-05-01", 0},
    {"enable_weak_ref", "disable_weak_ref", "2025-05-05", 0},
    {"request_signal_passthrough", "no_request_signal_passthrough", NULL, 0},
    {"enable_navigator_language", "disable_navigator_language", "2025-05-19", 0},
    {"enable_web_file_system", NULL, NULL, 1},
    {"enable_abortsignal_rpc", NULL, NULL, 1},
    {"allow_eval_during_startup", "disallow_eval_during_startup", "2025-06-01", 0},
    {"enable_request_signal", "disable_request_signal", NULL, 0},
    {"connect_pass_through", NULL, NULL, 1},
    {"bind_asynclocalstorage_snapshot_to_request", "do_not_bind_asynclocalstorage_snapshot_to-request", "2025-06-16", 0},
    {"throw_on_unrecognized_import_assertion", "ignore_unrecognized_import_assertion", "2025-06-16", 0},
    {"python_workflows", "disable_python_workflows", NULL, 0},
    {"unsupported_process_actual_platform", NULL, NULL, 1},
    {"enable_nodejs_process_v2", "disable_nodejs_process_v2", NULL, 0},
    {"set_event_target_this", "no_set_event_target_this", "2025-08-01", 0},
    {"set_forwardable_email_full_headers", "set_forwardable_email_single_headers", "2025-08-01", 0},
    {"enable_nodejs_http_modules", "disable_nodejs_http_modules", NULL, 0},
    {"pedantic_wpt", "non_pedantic_wpt", NULL, 0},
    {"expose_global_message_channel", "no_expose_global_message_channel", "2025-08-15", 0},
    {"enable_nodejs_http_server_modules", "disable_nodejs_http_server_modules", NULL, 0},
    {"python_no_global_handlers", "disable_python_no_global_handlers", "2025-08-14", 0},
    {"enable_nodejs_fs_module", "disable_nodejs_fs_module", NULL, 0},
    {"enable_nodejs_os_module", "disable_nodejs_os_module", NULL, 0},
    {"python_workers_force_new_vendor_path", NULL, "2025-08-11", 0},
    {"remove_nodejs_compat_eol", "add_nodejs_compat_eol", NULL, 0},
    {"enable_validate_workflow_entrypoint", "disable_validate_workflow_entrypoint", "2025-09-20", 0},
    {"python_dedicated_snapshot", "disable_python_dedicated_snapshot", NULL, 0},
    {"typescript_strip_types", NULL, NULL, 1},
    {"enable_nodejs_http2_module", "disable_nodejs_http2_module", NULL, 0},
    {"allow_insecure_inefficient_logged_eval", NULL, NULL, 1},
    {"strip_authorization_on_cross_origin_redirect", "retain_authorization_on_cross_origin_redirect", "2025-09-01", 0},
    {"enhanced_error_serialization", "legacy_error_serialization", "2026-04-21", 0},
    {"enable_email_sending_queuing", "disable_email_sending_queuing", NULL, 0},
    {"remove_nodejs_compat_eol_v22", "add_nodejs_compat_eol_v22", NULL, 0},
    {"remove_nodejs_compat_eol_v23", "add_nodejs_compat_eol_v23", NULL, 0},
    {"remove_nodejs_compat_eol_v24", "add_nodejs_compat_eol_v24", NULL, 0},
    {"enable_nodejs_console_module", "disable_nodejs_console_module", NULL, 0},
    {"enable_nodejs_vm_module", "disable_nodejs_vm_module", NULL, 0},
    {"enable_nodejs_perf_hooks_module", "disable_nodejs_perf_hooks_module", NULL, 0},
    {"enable_global_performance_classes", "disable_global_performance_classes", NULL, 0},
    {"enable_nodejs_domain_module", "disable_nodejs_domain_module", NULL, 0},
    {"enable_nodejs_v8_module", "disable_nodejs_v8_module", NULL, 0},
    {"enable_nodejs_tty_module", "disable_nodejs_tty_module", NULL, 0},
    {"enable_nodejs_punycode_module", "disable_nodejs_punycode_module", NULL, 0},
    {"enable_nodejs_cluster_module", "disable_nodejs_cluster_module", NULL, 0},
    {"enable_nodejs_child_process_module", "disable_nodejs_child_process_module", NULL, 0},
    {"enable_nodejs_worker_threads_module", "disable_nodejs_worker_threads_module", NULL, 0},
    {"enable_nodejs_stream_wrap_module", "disable_nodejs_stream_wrap_module", NULL, 0},
    {"enable_nodejs_wasi_module", "disable_nodejs_wasi_module", NULL, 0},
    {"enable_nodejs_dgram_module", "disable_nodejs_dgram_module", NULL, 0},
    {"enable_nodejs_inspector_module", "disable_nodejs_inspector_module", NULL, 0},
    {"enable_nodejs_trace_events_module", "disable_nodejs_trace_events_module", NULL, 0},
    {"enable_nodejs_readline_module", "disable_nodejs_readline_module", NULL, 0},
    {"enable_nodejs_repl_module", "disable_nodejs_repl_module", NULL, 0},
    {"enable_nodejs_sqlite_module", "disable_nodejs_sqlite_module", NULL, 0},
    {"enable_ctx_exports", "disable_ctx_exports", "2025-11-17", 0},
    {"enable_python_external_sdk", "disable_python_external_sdk", "2026-04-21", 0},
    {"enable_fast_jsg_struct", "disable_fast_jsg_struct", "2025-12-03", 0},
    {"cache_reload_enabled", "cache_reload_disabled", NULL, 1},
    {"enable_streams_nodejs_v24_compat", "disable_streams_nodejs_v24_compat", NULL, 0},
    {"python_check_rng_state", "disable_python_check_rng_state", NULL, 0},
    {"immutable_api_prototypes", "mutable_api_prototypes", NULL, 0},
    {"fetch_iterable_type_support", "no_fetch_iterable_type_support", "2026-02-19", 0},
    {"env_module_nullable_support", "no_env_module_nullable_support", NULL, 0},
    {"precise_timers", "no_precise_timers", NULL, 1},
    {"fetch_iterable_type_support_override_adjustment", "no_fetch_iterable_type_support_override_adjustment", NULL, 0},
    {"strip_bom_in_read_all_text", "do_not_strip_bom_in_read_all_text", "2026-01-13", 0},
    {"allow_irrevocable_stub_storage", NULL, NULL, 0},
    {"rpc_params_dup_stubs", "rpc_params_transfer_stubs", "2026-01-20", 0},
    {"enable_nodejs_global_timers", "no_nodejs_global_timers", NULL, 0},
    {"streams_no_default_auto_allocate_chunk_size", "streams_auto_allocate_chunk_size_default", NULL, 1},
    {"python_workflows_implicit_dependencies", "no_python_workflows_implicit_dependencies", NULL, 0},
    {"require_returns_default_export", "require_returns_namespace", "2026-01-22", 0},
    {"python_request_headers_preserve_commas", "disable_python_request_headers_preserve_commas", "2026-02-17", 0},
    {"queue_expose_error_codes", "no_queue_expose_error_codes", "2026-03-12", 0},
    {"text_decoder_replace_surrogates", "disable_text_decoder_replace_surrogates", "2026-02-24", 0},
    {"containers_pid_namespace", "no_containers_pid_namespace", "2026-04-01", 0},
    {"delete_all_deletes_alarm", "delete_all_preserves_alarm", "2026-02-24", 0},
    {"unhandled_rejection_after_microtask_checkpoint", "no_unhandled_rejection_after_microtask_checkpoint", "2026-03-03", 0},
    {"text_decoder_cjk_decoder", "disable_text_decoder_cjk_decoder", "2026-03-03", 0},
    {"websocket_close_reason_byte_limit", "no_websocket_close_reason_byte_limit", "2026-03-03", 0},
    {"enable_version_api", NULL, NULL, 1},
    {"websocket_standard_binary_type", "no_websocket_standard_binary_type", "2026-03-17", 0},
    {"writable_stream_spec_compliant_writer", "no_writable_stream_spec_compliant_writer", "2026-03-24", 0},
    {"encoder_stream_spec_compliant_backpressure", "no_encoder_stream_spec_compliant_backpressure", "2026-03-24", 0},
    {"spec_compliant_property_attributes", "no_spec_compliant_property_attributes", NULL, 1},
    {"workflows_preserve_non_retryable_error_message", "workflows_replace_non_retryable_error_message", "2026-05-14", 0},
    {"web_socket_auto_reply_to_close", "web_socket_manual_reply_to_close", "2026-04-07", 0},
    {"enable_ctx_version_metadata", NULL, NULL, 1},
    {"no_resizable_array_buffer_in_blob", "resizable_array_buffer_in_blob", NULL, 0},
    {"diagnostics_channel_has_subscribers_getter", "no_diagnostics_channel_has_subscribers_getter", "2026-05-19", 0},
    {"workflows_step_rollback", NULL, NULL, 1},
    {"python_process_pth_files", "disable_python_process_pth_files", "2026-05-26", 0},
    {"throw_on_not_implemented_tls_options", "no_throw_on_not_implemented_tls_options", "2026-06-16", 0},
    {"auto_grpc_convert", NULL, NULL, 1},
    {"python_workers_20260610", "no_python_workers_20260610", NULL, 0},
    {"enable_nodejs_inspector_local_dev", NULL, NULL, 1},
    {"d1_binding_jsrpc", NULL, NULL, 1},
    {"workflows_bindings_rpc", NULL, NULL, 1},
    {"typescript_implemented_streams", NULL, NULL, 1},
    {"expose_draining_reader", NULL, NULL, 1},
    {"workflows_enable_fast_engine_creation", "workflows_disable_fast_engine_creation", "2026-08-11", 0},
    {"wasm_memory_discard", NULL, NULL, 1},
    {"python_workers_20260817", "no_python_workers_20260817", NULL, 1},
};

#define N_COMPAT_FLAGS (sizeof(compat_flags) / sizeof(compat_flags[0]))

const pw_compat_flag_t *pw_compat_flag_find(const char *flag, int *is_disable)
{
    for (size_t i = 0; i < N_COMPAT_FLAGS; i++) {
        const pw_compat_flag_t *f = &compat_flags[i];
        if (f->enable_flag && strcmp(f->enable_flag, flag) == 0) {
            if (is_disable) *is_disable = 0;
            return f;
        }
        if (f->disable_flag && strcmp(f->disable_flag, flag) == 0) {
            if (is_disable) *is_disable = 1;
            return f;
        }
    }
    return NULL;
}

const pw_compat_flag_t *pw_compat_flag_at(size_t i)
{
    return i < N_COMPAT_FLAGS ? &compat_flags[i] : NULL;
}

static int flag_given(char *const *flags, size_t n_flags, const char *flag);

int pw_compat_flag_on(const pw_compat_flag_t *f, const char *date, char *const *flags, size_t n_flags)
{
    if (flag_given(flags, n_flags, f->enable_flag)) return 1;
    if (flag_given(flags, n_flags, f->disable_flag)) return 0;
    return f->enable_date && date && strcmp(date, f->enable_date) >= 0;
}

int pw_compat_date_valid(const char *date)
{
    if (strlen(date) != 10 || date[0] != '2' || date[4] != '-' || date[7] != '-') return 0;
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (date[i] < '0' || date[i] > '9')) return 0;
    }
    int month = (date[5] - '0') * 10 + (date[6] - '0');
    int day = (date[8] - '0') * 10 + (date[9] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

static void today_utc(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || strftime(out, 11, "%Y-%m-%d", &tm) != 10) {
        strcpy(out, "2000-01-01");
    }
}

static int flag_seen_before(char *const *flags, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (strcmp(flags[j], flags[i]) == 0) return 1;
    }
    return 0;
}

static int flag_given(char *const *flags, size_t n_flags, const char *flag)
{
    for (size_t i = 0; flag && i < n_flags; i++) {
        if (strcmp(flags[i], flag) == 0) return 1;
    }
    return 0;
}

static int check_date(const char *date, const char *today, char *err, size_t err_len)
{
    char now[11];
    if (!date) {
        snprintf(err, err_len, "Worker must specify compatibilityDate.");
        return -1;
    }
    if (!pw_compat_date_valid(date)) {
        snprintf(err, err_len, "Invalid compatibility date: %s", date);
        return -1;
    }
    if (today && pw_compat_date_valid(today)) {
        memcpy(now, today, 11);
    } else {
        today_utc(now);
    }
    if (strcmp(date, now) > 0) {
        snprintf(err, err_len,
                 "Can't set compatibility date in the future: \"%s\". Today's date (UTC) is \"%s\".",
                 date, now);
        return -1;
    }
    return 0;
}

int pw_compat_check(const char *date, char *const *flags, size_t n_flags, const char *today,
                    char *err, size_t err_len)
{
    for (size_t i = 0; i < n_flags; i++) {
        if (flag_seen_before(flags, i)) {
            snprintf(err, err_len, "Compatibility flag specified multiple times: %s", flags[i]);
            return -1;
        }
    }
    if (check_date(date, today, err, err_len) < 0) return -1;
    for (size_t i = 0; i < N_COMPAT_FLAGS; i++) {
        const pw_compat_flag_t *f = &compat_flags[i];
        if (flag_given(flags, n_flags, f->enable_flag) && flag_given(flags, n_flags, f->disable_flag)) {
            snprintf(err, err_len, "Compatibility flags are mutually contradictory: %s vs %s",
                     f->enable_flag, f->disable_flag);
            return -1;
        }
    }
    for (size_t i = 0; i < n_flags; i++) {
        if (!pw_compat_flag_find(flags[i], NULL)) {
            snprintf(err, err_len, "No such compatibility flag: %s", flags[i]);
            return -1;
        }
    }
    return 0;
}
