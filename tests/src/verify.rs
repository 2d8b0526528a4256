//! What a receiver checks on every webhook, whatever its format.
use chathooks::domain::secret::WebhookSecret;
use chathooks::domain::signing::verify;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

use crate::moto::workspace_root;
use crate::receiver::Received;

/// The three Standard Webhooks headers, a fresh timestamp, a signature that
/// verifies over the exact body bytes (and not over a changed body), our
/// User-Agent, and the stock `standardwebhooks` library's verdict.
pub fn assert_signed(got: &Received, secret: &str) {
    let id = got.header("webhook-id").expect("webhook-id");
    assert!(id.starts_with("msg_"), "webhook-id {id}");
    let ts: i64 = got
        .header("webhook-timestamp")
        .expect("webhook-timestamp")
        .parse()
        .expect("numeric webhook-timestamp");
    assert!(
        (chrono::Utc::now().timestamp() - ts).abs() < 300,
        "timestamp too far from now"
    );
    let sig = got.header("webhook-signature").expect("webhook-signature");
    let key = WebhookSecret::parse(secret).expect("secret");
    assert!(
        verify(&key, id, ts, &got.body, sig),
        "signature does not verify"
    );
    let mut changed = got.body.to_vec();
    changed.push(b' ');
    assert!(
        !verify(&key, id, ts, &changed, sig),
        "a changed body must not verify"
    );
    assert!(
        got.header("user-agent")
            .is_some_and(|ua| ua.starts_with("chathooks/")),
        "user-agent {:?}",
        got.header("user-agent")
    );
    assert_stock_verifier_accepts(got, secret);
}

/// The stock Standard Webhooks verifier (PyPI `standardwebhooks`, in `.venv`) accepts it.
pub fn assert_stock_verifier_accepts(got: &Received, secret: &str) {
    let headers: serde_json::Map<String, Value> = got
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let input =
        json!({"secret": secret, "headers": headers, "body": String::from_utf8_lossy(&got.body)});
    let mut child = Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/verify_standard_webhooks.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python from .venv (make test creates it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to the verifier");
    let out = child.wait_with_output().expect("verifier ran");
    assert!(
        out.status.success(),
        "standardwebhooks rejected it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
