//! What each sample in `events/` is for and what its function answers: the
//! in-process test (`tests/tests/events_samples.rs`) and `chathooks-sam
//! samples` (the same samples through `sam local invoke`) check the same.
use std::path::Path;

/// The samples that make what the others refer to: the tenant, the
/// integration, the source, the accepted events, and the queue messages.
pub const SETUP_SAMPLES: [&str; 7] = [
    "config-api-create-tenant.json",
    "config-api-create-integration.json",
    "config-api-create-source.json",
    "event-intake-chat-closed.json",
    "event-intake-batch.json",
    "dispatcher-delivery.json",
    "retry-scheduler-retry.json",
];

/// The API samples run after the setup ones, with their statuses; the
/// deletion last.
pub const CONFIG_API_SAMPLES: [(&str, u16); 20] = [
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
    ("event-intake-rocketchat-session.json", 200),
    ("config-api-create-api-key.json", 201),
    ("config-api-list-api-keys.json", 200),
    ("config-api-list-tenants.json", 200),
    ("config-api-update-tenant.json", 200),
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

// The placeholder keys and ids the samples carry (scripts/gen-events.py).
pub const SAMPLE_ADMIN_KEY: &str = "example-admin-key-0123456789abcdef0123456789abcdef";
pub const SAMPLE_API_KEY: &str = "chk_example_3f9c2a71d04b4e8fa6b51c0d9e7f2a38";
pub const SAMPLE_TENANT: &str = "ten_0193c5e1a7b07000a1b2c3d4e5f60718";
pub const SAMPLE_ROCKETCHAT_USER: &str = "rbAXPnMktTFbNpwtJ";
pub const SAMPLE_INTEGRATION: &str = "int_0193c5e1a7b07c3e8f2d4a6b9c1e3f50";
pub const SAMPLE_DELIVERY: &str = "msg_5f1c9a0e7b3d2a4c6e8f0a1b2c3d4e5f";
pub const SAMPLE_TARGET: &str = "https://crm.example.com/hooks/chat";
pub const SAMPLE_SOURCE_TOKEN: &str = "chs_ExampleSourceToken0123456789abcdefghijklmno";
/// What `Real::apply` leaves where the sample's admin key was, for the
/// stack's own admin key.
pub const ADMIN_PLACEHOLDER: &str = "ADMIN_KEY_PLACEHOLDER";

/// The real ids a sample's placeholders stand for, once made.
#[derive(Default)]
pub struct Real {
    pub tenant: String,
    pub key: String,
    pub integration: String,
    pub delivery: String,
    pub target: String,
    pub source_token: String,
}

impl Real {
    /// The sample with every placeholder known so far replaced.
    pub fn apply(&self, raw: &str) -> String {
        let mut s = raw.replace(SAMPLE_ADMIN_KEY, ADMIN_PLACEHOLDER);
        for (from, to) in [
            (SAMPLE_API_KEY, &self.key),
            (SAMPLE_TENANT, &self.tenant),
            (SAMPLE_ROCKETCHAT_USER, &self.tenant),
            (SAMPLE_INTEGRATION, &self.integration),
            (SAMPLE_DELIVERY, &self.delivery),
            (SAMPLE_TARGET, &self.target),
            (SAMPLE_SOURCE_TOKEN, &self.source_token),
        ] {
            if !to.is_empty() {
                s = s.replace(from, to);
            }
        }
        s
    }

    /// Keep the URL token of the source `config-api-create-source.json`
    /// made (its answer's `url` ends in `/in/<token>`).
    pub fn set_source(&mut self, created: &serde_json::Value) -> Result<(), String> {
        let url = created["url"]
            .as_str()
            .ok_or(format!("no url in {created}"))?;
        let (_, token) = url
            .rsplit_once("/in/")
            .ok_or(format!("not a source URL: {url}"))?;
        self.source_token = token.to_string();
        Ok(())
    }
}
