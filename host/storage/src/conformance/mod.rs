//! The conformance suite: what every storage backend must do, written
//! against the ports only. A backend runs it with
//! [`conformance_suite!`](crate::conformance_suite), which expands to one
//! `#[tokio::test]` per case, each on a fresh, empty store:
//!
//! ```ignore
//! nexus_storage::conformance_suite!(async { std::sync::Arc::new(MyStore::fresh().await) });
//! ```

mod aggregate;
mod alarms;
mod commit;
mod connectors;
mod entities;
mod fixture;
mod forecasts;
mod hygiene;
mod identity;
mod lifecycle;
mod monitor;
mod notifications;
mod outbox;
mod plugins;
mod releases;
mod rollouts;
mod setpoints;
mod telemetry;
mod well_tests;

pub use aggregate::{
    a_day_at_one_hertz_aggregates_the_same_everywhere, expiring_telemetry_deletes_every_tenants_older_readings,
    history_aggregates_into_buckets_from_the_start, telemetry_retention_deletes_one_tenants_old_readings,
};
pub use alarms::{
    a_long_run_of_signals_keeps_every_row_in_order, operator_actions_are_events_and_doing_it_twice_changes_nothing,
    signals_follow_the_lifecycle, signals_in_one_unit_of_work_apply_in_order,
};
pub use commit::{
    a_commit_is_atomic, group_commit_is_all_or_nothing, plugin_states_of_a_batch_end_as_their_last_write,
    records_and_usage_accumulate,
};
pub use connectors::connectors_stay_in_their_tenant_and_their_events_carry_no_secret;
pub use entities::{
    device_tokens_are_stored_hashed_and_rotate, entity_lists_page_after_a_cursor, profiles_are_stored_whole_per_tenant,
    tenants_see_nothing_of_each_other, wellpad_constraints_are_kept_whole_per_tenant,
};
pub use forecasts::{
    bindings_keep_their_cron_schedule_and_auto_approve_policy, forecasts_keep_the_newest_per_device_and_key,
};
pub use hygiene::{dead_letter_retention_by_age_and_size, latest_pages_and_samples_ahead_of_the_clock};
pub use identity::users_sessions_keys_and_audit_stay_in_their_scope;
pub use lifecycle::recommendations_move_one_checked_step_at_a_time;
pub use monitor::monitoring_reads_pools_wells_alarms_and_the_outbox_head;
pub use notifications::notification_rules_and_deliveries_stay_in_their_tenant_and_enqueue_once;
pub use outbox::outbox_is_in_commit_order_and_cursors_only_move_forward;
pub use plugins::bindings_swap_quarantine_and_enable;
pub use releases::{
    releases_are_signed_once_seen_by_trust_and_installed_per_tenant,
    retiring_a_release_warns_its_tenants_and_moves_or_stops_their_bindings,
};
pub use rollouts::a_rollout_starts_once_and_ends_once_with_its_events;
pub use setpoints::setpoints_are_data_moved_only_by_confirmed_writes;
pub use telemetry::telemetry_latest_history_and_redelivery;
pub use well_tests::well_tests_are_kept_per_well_newest_first_once_per_start;

/// Expands to one `#[tokio::test]` per conformance case. `$make` is an
/// expression (evaluated once per test) giving a future of a fresh
/// `Arc<dyn Store>` (or `Arc<T: Store>`).
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            tenants_see_nothing_of_each_other,
            device_tokens_are_stored_hashed_and_rotate,
            entity_lists_page_after_a_cursor,
            profiles_are_stored_whole_per_tenant,
            a_commit_is_atomic,
            group_commit_is_all_or_nothing,
            plugin_states_of_a_batch_end_as_their_last_write,
            records_and_usage_accumulate,
            signals_follow_the_lifecycle,
            signals_in_one_unit_of_work_apply_in_order,
            a_long_run_of_signals_keeps_every_row_in_order,
            operator_actions_are_events_and_doing_it_twice_changes_nothing,
            outbox_is_in_commit_order_and_cursors_only_move_forward,
            bindings_swap_quarantine_and_enable,
            telemetry_latest_history_and_redelivery,
            latest_pages_and_samples_ahead_of_the_clock,
            dead_letter_retention_by_age_and_size,
            users_sessions_keys_and_audit_stay_in_their_scope,
            monitoring_reads_pools_wells_alarms_and_the_outbox_head,
            notification_rules_and_deliveries_stay_in_their_tenant_and_enqueue_once,
            history_aggregates_into_buckets_from_the_start,
            a_day_at_one_hertz_aggregates_the_same_everywhere,
            telemetry_retention_deletes_one_tenants_old_readings,
            expiring_telemetry_deletes_every_tenants_older_readings,
            connectors_stay_in_their_tenant_and_their_events_carry_no_secret,
            well_tests_are_kept_per_well_newest_first_once_per_start,
            setpoints_are_data_moved_only_by_confirmed_writes,
            recommendations_move_one_checked_step_at_a_time,
            wellpad_constraints_are_kept_whole_per_tenant,
            forecasts_keep_the_newest_per_device_and_key,
            bindings_keep_their_cron_schedule_and_auto_approve_policy,
            releases_are_signed_once_seen_by_trust_and_installed_per_tenant,
            retiring_a_release_warns_its_tenants_and_moves_or_stops_their_bindings,
            a_rollout_starts_once_and_ends_once_with_its_events
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}
