//! What each sample in `events/` is for and what its function answers: the
//! in-process test (`tests/tests/events_samples.rs`) and `chathooks-sam
//! samples` (the same samples through `sam local invoke`) check the same.
use std::path::Path;

/// The samples that make what the others refer to: the tenant, the
/// integration, the accepted events, and the queue messages.
pub const SETUP_SAMPLES: [&str; 6] = [
    "config-api-create-tenant.json",
    "config-api-create-integration.json",
    "event-intake-chat-closed.json",
    "event-intake-batch.json",
    "dispatcher-delivery.json",
    "retry-scheduler-retry.json",
];

/// The config-api samples run after the setup ones, with their statuses;
/// the deletion last.
pub const CONFIG_API_SAMPLES: [(&str, u16); 15] = [
    ("config-api-list-integrations.json", 200),
    ("config-api-get-integration.json", 200),
    ("config-api-update-integration.json", 200),
    ("config-api-get-secret.json", 200),
    ("config-api-rotate-secret.json", 200),
    ("config-api-test-integration.json", 200),
    ("config-api-list-deliveries.json", 200),
    ("config-api-get-delivery.json", 200),
    ("config-api-retry-delivery.json", 202),
    ("config-api-recover.json", 202),
    ("config-api-rocketchat-settings.json", 200),
    ("config-api-openapi.json", 200),
    ("config-api-create-portal-session.json", 201),
    ("config-api-integration-stats.json", 200),
    ("config-api-delete-integration.json", 204),
];

/// The files in `events_dir` that neither list covers (each must be run).
pub fn uncovered(events_dir: &Path) -> std::io::Result<Vec<String>> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir(events_dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        let covered = SETUP_SAMPLES.contains(&name.as_str())
            || CONFIG_API_SAMPLES.iter().any(|(n, _)| *n == name);
        if !covered {
            left.push(name);
        }
    }
    Ok(left)
}
