//! The receiver's `Retry-After` header, turned into a delay.
use std::time::{Duration, SystemTime};

/// `Retry-After` is either delay-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`). A date in the past means "now" (zero);
/// anything unparseable is ignored (`None`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate; the caller caps the delay anyway.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // Wed, 21 Oct 2015 07:28:00 GMT
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
    }

    #[test]
    fn seconds_are_taken_as_a_delay() {
        assert_eq!(parse_retry_after("7", now()), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(" 120 ", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
    }

    #[test]
    fn huge_seconds_saturate_instead_of_being_ignored() {
        let huge = "99999999999999999999999";
        assert_eq!(
            parse_retry_after(huge, now()),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn a_future_http_date_is_the_time_until_it() {
        // GIVEN a date 90 s after now
        let value = "Wed, 21 Oct 2015 07:29:30 GMT";
        // THEN the delay is 90 s
        assert_eq!(
            parse_retry_after(value, now()),
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn a_past_http_date_means_no_delay() {
        let value = "Wed, 21 Oct 2015 07:00:00 GMT";
        assert_eq!(parse_retry_after(value, now()), Some(Duration::ZERO));
    }

    #[test]
    fn garbage_is_ignored() {
        for value in ["", "soon", "-5", "7.5", "1e3", "Wed, 99 Foo 2015"] {
            assert_eq!(parse_retry_after(value, now()), None, "{value:?}");
        }
    }
}
