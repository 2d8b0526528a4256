//! The intake's body parser (`POST /v1/events`) on arbitrary bytes: it never
//! panics, and whatever it accepts serializes back into a body that parses to
//! the same events.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((events, batch)) = chathooks::domain::intake_body::parse_events(data) else {
        return;
    };
    assert!(!events.is_empty() && (batch || events.len() == 1));
    let again = if batch {
        serde_json::json!({ "events": events })
    } else {
        serde_json::to_value(&events[0]).expect("an accepted event serializes")
    };
    let bytes = serde_json::to_vec(&again).expect("serializes");
    let (reparsed, batch_again) = match chathooks::domain::intake_body::parse_events(&bytes) {
        Ok(parsed) => parsed,
        Err(e) => panic!("accepted events no longer parse: {e}: {again}"),
    };
    assert_eq!(batch_again, batch);
    assert_eq!(reparsed, events);
});
