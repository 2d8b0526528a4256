//! The cost model: AWS usage per delivery turned into dollars per million
//! deliveries at published us-east-1 list prices.
//!
//! Prices (us-east-1, on-demand list prices as published on the AWS pricing
//! pages; DynamoDB on-demand since the 1 November 2024 price cut; recorded
//! 2025-01, free tiers ignored):
//! - API Gateway HTTP API: $1.00 per million requests (first 300 M/month),
//!   each 512 KB of a request counting as one;
//! - Lambda (arm64): $0.20 per million requests, $0.0000133334 per GB-second;
//! - SQS standard: $0.40 per million requests, each 64 KB chunk one request;
//! - DynamoDB on-demand: $0.625 per million write request units,
//!   $0.125 per million read request units.
//!
//! - DynamoDB provisioned capacity: $0.00065 per WCU-hour, $0.00013 per
//!   RCU-hour. A unit sustains one request unit per second (3,600 an hour);
//!   auto scaling holds utilisation near its target (70 % by default), so a
//!   million write units cost 1e6 / 3600 / 0.7 WCU-hours ≈ $0.258 and a
//!   million read units ≈ $0.052.
//!
//! Formula, per delivery: `api × 1.00 + λreq × 0.20 + GB-s × 13.3334 +
//! sqs × 0.40 + WRU × 0.625 + RRU × 0.125` dollars per million deliveries.
pub const PRICES_AS_OF: &str = "us-east-1 list prices; DynamoDB on-demand since 2024-11-01";
pub const API_GATEWAY_HTTP_PER_MILLION: f64 = 1.00;
pub const LAMBDA_REQUESTS_PER_MILLION: f64 = 0.20;
pub const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
pub const SQS_PER_MILLION: f64 = 0.40;
pub const DYNAMODB_WRU_PER_MILLION: f64 = 0.625;
pub const DYNAMODB_RRU_PER_MILLION: f64 = 0.125;
pub const DYNAMODB_WCU_HOUR: f64 = 0.000_65;
pub const DYNAMODB_RCU_HOUR: f64 = 0.000_13;
/// The auto-scaling target utilisation the provisioned figures assume.
pub const PROVISIONED_UTILISATION: f64 = 0.70;
/// template.yaml's MemorySize for every function.
pub const LAMBDA_MEMORY_GB: f64 = 0.25;

/// Usage per delivery (averages; fractions where requests are batched).
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub api_requests: f64,
    pub lambda_invocations: f64,
    pub lambda_gb_seconds: f64,
    pub sqs_requests: f64,
    pub wru: f64,
    pub rru: f64,
}

/// Dollars per million deliveries, by line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bill {
    pub api_gateway: f64,
    pub lambda_requests: f64,
    pub lambda_duration: f64,
    pub sqs: f64,
    pub dynamodb_writes: f64,
    pub dynamodb_reads: f64,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.api_gateway
            + self.lambda_requests
            + self.lambda_duration
            + self.sqs
            + self.dynamodb_writes
            + self.dynamodb_reads
    }
}

pub fn per_million(u: &Usage) -> Bill {
    Bill {
        api_gateway: u.api_requests * API_GATEWAY_HTTP_PER_MILLION,
        lambda_requests: u.lambda_invocations * LAMBDA_REQUESTS_PER_MILLION,
        lambda_duration: u.lambda_gb_seconds * LAMBDA_ARM64_PER_GB_SECOND * 1e6,
        sqs: u.sqs_requests * SQS_PER_MILLION,
        dynamodb_writes: u.wru * DYNAMODB_WRU_PER_MILLION,
        dynamodb_reads: u.rru * DYNAMODB_RRU_PER_MILLION,
    }
}

/// The same usage with the table on provisioned capacity (auto scaling at
/// [`PROVISIONED_UTILISATION`]): only the DynamoDB lines change.
pub fn per_million_provisioned(u: &Usage) -> Bill {
    let unit_hours_per_million = 1e6 / 3600.0 / PROVISIONED_UTILISATION;
    Bill {
        dynamodb_writes: u.wru * unit_hours_per_million * DYNAMODB_WCU_HOUR,
        dynamodb_reads: u.rru * unit_hours_per_million * DYNAMODB_RCU_HOUR,
        ..per_million(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioned_capacity_reprices_only_dynamodb() {
        let usage = Usage {
            api_requests: 0.1,
            wru: 2.0,
            rru: 1.0,
            ..Usage::default()
        };
        let (on_demand, provisioned) = (per_million(&usage), per_million_provisioned(&usage));
        assert_eq!(provisioned.api_gateway, on_demand.api_gateway);
        // 2 WRU: 2e6 / 3600 / 0.7 WCU-hours at $0.00065
        assert!(
            (provisioned.dynamodb_writes - 0.5159).abs() < 1e-3,
            "{provisioned:?}"
        );
        assert!(
            (provisioned.dynamodb_reads - 0.0516).abs() < 1e-3,
            "{provisioned:?}"
        );
    }

    #[test]
    fn one_of_each_per_delivery_costs_the_sum_of_the_prices() {
        let bill = per_million(&Usage {
            api_requests: 1.0,
            lambda_invocations: 1.0,
            lambda_gb_seconds: 1.0,
            sqs_requests: 1.0,
            wru: 1.0,
            rru: 1.0,
        });
        let expected = 1.00 + 0.20 + 13.3334 + 0.40 + 0.625 + 0.125;
        assert!((bill.total() - expected).abs() < 1e-6, "{bill:?}");
    }
}
