//! Retry policies: how long to wait before each re-attempt.
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::ValidationError;

/// Svix's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
const STANDARD: [u32; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
/// Rocket.Chat: 10 retries, 10 s apart (seed 002).
const ROCKETCHAT: [u32; 10] = [10; 10];
/// LiveChat: up to 10 retries within 6 hours (seed 001); sums to 5 h 51 min.
const LIVECHAT: [u32; 10] = [10, 30, 60, 300, 900, 1_800, 3_600, 3_600, 5_400, 5_400];
/// Jitter applied to the `standard` schedule: ±20 %.
const STANDARD_JITTER: f64 = 0.2;
pub const MAX_CUSTOM_RETRIES: usize = 20;
pub const MAX_CUSTOM_DELAY_SECS: u32 = 7 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(untagged)]
pub enum RetryPolicy {
    Named(NamedPolicy),
    /// An explicit list of delays in seconds, one per retry.
    Custom(Vec<u32>),
    #[default]
    #[serde(skip)]
    Default,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NamedPolicy {
    Standard,
    Rocketchat,
    Livechat,
    None,
}

impl RetryPolicy {
    pub const STANDARD: RetryPolicy = RetryPolicy::Named(NamedPolicy::Standard);

    pub fn validate(&self) -> Result<(), ValidationError> {
        if let RetryPolicy::Custom(delays) = self {
            if delays.len() > MAX_CUSTOM_RETRIES {
                return Err(ValidationError::general(format!(
                    "a custom retry policy has at most {MAX_CUSTOM_RETRIES} delays"
                )));
            }
            if let Some(d) = delays.iter().find(|d| **d > MAX_CUSTOM_DELAY_SECS) {
                return Err(ValidationError::general(format!(
                    "delay {d} s is over the maximum of {MAX_CUSTOM_DELAY_SECS} s"
                )));
            }
        }
        Ok(())
    }

    /// Canonical form: `Default` becomes `standard`.
    pub fn normalized(self) -> Self {
        match self {
            RetryPolicy::Default => Self::STANDARD,
            other => other,
        }
    }

    /// The base delays (seconds) before retry 1, 2, ... n.
    pub fn schedule(&self) -> &[u32] {
        match self {
            RetryPolicy::Named(NamedPolicy::Standard) | RetryPolicy::Default => &STANDARD,
            RetryPolicy::Named(NamedPolicy::Rocketchat) => &ROCKETCHAT,
            RetryPolicy::Named(NamedPolicy::Livechat) => &LIVECHAT,
            RetryPolicy::Named(NamedPolicy::None) => &[],
            RetryPolicy::Custom(d) => d,
        }
    }

    /// Total attempts, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.schedule().len() as u32 + 1
    }

    fn jitter(&self) -> f64 {
        match self {
            RetryPolicy::Named(NamedPolicy::Standard) | RetryPolicy::Default => STANDARD_JITTER,
            _ => 0.0,
        }
    }

    /// The delay after attempt number `failed_attempt` (1-based) failed, or
    /// `None` when that was the last attempt.
    pub fn delay_after(&self, failed_attempt: u32, rng: &mut impl Rng) -> Option<Duration> {
        let base = *self
            .schedule()
            .get(usize::try_from(failed_attempt.checked_sub(1)?).ok()?)?;
        let jitter = self.jitter();
        let factor = if jitter > 0.0 {
            rng.random_range((1.0 - jitter)..=(1.0 + jitter))
        } else {
            1.0
        };
        Some(Duration::from_millis(
            (base as f64 * 1000.0 * factor) as u64,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn standard_delays_stay_within_twenty_percent() {
        let mut rng = StdRng::seed_from_u64(7);
        let p = RetryPolicy::STANDARD;
        assert_eq!(p.max_attempts(), 8);
        for (i, base) in STANDARD.iter().enumerate() {
            for _ in 0..100 {
                let d = p.delay_after(i as u32 + 1, &mut rng).unwrap().as_secs_f64();
                let base = *base as f64;
                assert!(
                    d >= base * 0.8 - 0.001 && d <= base * 1.2 + 0.001,
                    "{d} vs {base}"
                );
            }
        }
        assert_eq!(p.delay_after(8, &mut rng), None);
        assert_eq!(p.delay_after(0, &mut rng), None);
    }

    #[test]
    fn platform_policies_match_their_seeds() {
        let mut rng = StdRng::seed_from_u64(1);
        let rc = RetryPolicy::Named(NamedPolicy::Rocketchat);
        assert_eq!(rc.max_attempts(), 11);
        assert_eq!(rc.delay_after(3, &mut rng), Some(Duration::from_secs(10)));
        let lc = RetryPolicy::Named(NamedPolicy::Livechat);
        assert_eq!(lc.max_attempts(), 11);
        assert!(LIVECHAT.iter().sum::<u32>() <= 6 * 3600);
        assert_eq!(RetryPolicy::Named(NamedPolicy::None).max_attempts(), 1);
    }

    #[test]
    fn policies_parse_from_names_and_lists() {
        let p: RetryPolicy = serde_json::from_str(r#""rocketchat""#).unwrap();
        assert_eq!(p, RetryPolicy::Named(NamedPolicy::Rocketchat));
        let p: RetryPolicy = serde_json::from_str("[1, 2, 3]").unwrap();
        assert_eq!(p.schedule(), &[1, 2, 3]);
        assert!(serde_json::from_str::<RetryPolicy>(r#""sometimes""#).is_err());
        assert!(RetryPolicy::Custom(vec![1; 21]).validate().is_err());
        assert!(
            RetryPolicy::Custom(vec![MAX_CUSTOM_DELAY_SECS + 1])
                .validate()
                .is_err()
        );
        assert_eq!(
            serde_json::to_string(&RetryPolicy::STANDARD).unwrap(),
            r#""standard""#
        );
    }
}
