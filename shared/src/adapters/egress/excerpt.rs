//! The response body, read only as far as the excerpt needs.
use crate::domain::delivery::RESPONSE_EXCERPT_BYTES;

/// Read up to `RESPONSE_EXCERPT_BYTES` of the body into `buf`, then stop: the
/// response is dropped (closing the connection) instead of being drained, so
/// an endless body costs nothing. Written into `buf` so that what was read
/// survives a deadline cutting this future short. A body error ends reading.
pub async fn read_capped(mut response: reqwest::Response, buf: &mut Vec<u8>) {
    while buf.len() < RESPONSE_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = RESPONSE_EXCERPT_BYTES - buf.len();
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
}

/// Lossy UTF-8, never longer than the cap, `None` for an empty body.
pub fn to_excerpt(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let bytes = &bytes[..bytes.len().min(RESPONSE_EXCERPT_BYTES)];
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    // A replacement character is 3 bytes: keep the cap even after decoding.
    let mut end = text.len().min(RESPONSE_EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_body_is_kept_whole() {
        assert_eq!(
            to_excerpt(b"{\"ok\":true}").as_deref(),
            Some("{\"ok\":true}")
        );
        assert_eq!(to_excerpt(b""), None);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        assert_eq!(to_excerpt(b"ok \xff").as_deref(), Some("ok \u{fffd}"));
    }

    #[test]
    fn the_excerpt_never_exceeds_the_cap_even_when_decoding_grows_it() {
        // GIVEN a body of invalid bytes, each decoded to a 3-byte replacement character
        let body = vec![0xffu8; RESPONSE_EXCERPT_BYTES * 2];
        // WHEN it becomes an excerpt
        let excerpt = to_excerpt(&body).unwrap();
        // THEN it stays within the cap, cut on a character boundary
        assert!(excerpt.len() <= RESPONSE_EXCERPT_BYTES);
        assert!(excerpt.chars().all(|c| c == '\u{fffd}'));
    }

    #[test]
    fn a_multibyte_character_cut_by_the_cap_does_not_break_the_excerpt() {
        let mut body = vec![b'a'; RESPONSE_EXCERPT_BYTES - 1];
        body.extend_from_slice("é".as_bytes());
        let excerpt = to_excerpt(&body).unwrap();
        assert!(excerpt.len() <= RESPONSE_EXCERPT_BYTES);
        assert!(excerpt.starts_with("aaa"));
    }
}
