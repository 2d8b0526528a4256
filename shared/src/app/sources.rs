//! Sources: created, listed, read, rotated and deleted through the config
//! API; a post to a source's URL is checked here (the URL token, then the
//! platform's own credential) and parsed into the canonical event, which the
//! event intake then accepts like any other.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::domain::ValidationError;
use crate::domain::event::Event;
use crate::domain::ids::TenantId;
use crate::domain::inbound::{self, Platform};
use crate::domain::source::{
    self, DELETED_KEPT, MAX_SOURCES_PER_TENANT, Source, SourceId, generate_token, hash, is_token,
    validate_grace, validate_name, validate_secret,
};
use crate::ports::{SourceLookup, SourceStore, StoreError};

/// The path a source's URL has after the API's base URL.
pub const PATH_PREFIX: &str = "/in/";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    /// What posts to it (1-100 characters), shown in listings.
    pub name: String,
    /// Whose webhooks it receives: rocketchat, livechat, olark or amplifyreach.
    pub platform: Platform,
    /// The platform's own credential, checked on every post: Rocket.Chat's
    /// `X-RocketChat-Livechat-Token`, LiveChat's `secret_key` (or `token`) in
    /// the body, or, for every platform, the password of HTTP Basic
    /// credentials (`https://user:password@host/in/...`). 1-256 characters
    /// without spaces. Absent: the URL's token alone admits a post.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A new source: `url` is shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CreatedSource {
    pub id: SourceId,
    pub name: String,
    pub platform: Platform,
    /// Where the platform posts: the API's base URL, `/in/` and a 256-bit
    /// token. Store it now: only its hash is kept.
    pub url: String,
    /// The secret, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A source as listed (never its URL's token nor its secret).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SourceView {
    pub id: SourceId,
    pub name: String,
    pub platform: Platform,
    /// Whether posts must carry the platform's credential.
    pub has_secret: bool,
    pub created_at: DateTime<Utc>,
    /// While a rotated-out URL still works: until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_url_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SourceList {
    pub items: Vec<SourceView>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSource {
    /// How long the current URL keeps working, 0-168 hours (default 24).
    #[serde(default)]
    pub grace_hours: Option<u32>,
}

/// A rotated source: the new `url` is shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RotatedSource {
    pub id: SourceId,
    pub url: String,
    /// Until when the previous URL keeps working; `null`: it stopped at once.
    pub previous_url_expires_at: Option<DateTime<Utc>>,
}

impl SourceView {
    fn of(s: &Source, now: DateTime<Utc>) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            platform: s.platform,
            has_secret: s.secret_hash.is_some(),
            created_at: s.created_at,
            previous_url_expires_at: s
                .previous_token
                .as_ref()
                .map(|p| p.expires_at)
                .filter(|at| *at > now),
        }
    }
}

fn url(base: &str, token: &str) -> String {
    format!("{}{PATH_PREFIX}{token}", base.trim_end_matches('/'))
}

fn parse_id(raw: &str) -> Result<SourceId, AppError> {
    SourceId::parse(raw).map_err(|_| AppError::NotFound("source"))
}

pub async fn create(
    store: &dyn SourceStore,
    tenant: &TenantId,
    input: NewSource,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<CreatedSource, AppError> {
    let name = validate_name(&input.name)?;
    if let Some(secret) = &input.secret {
        validate_secret(secret)?;
    }
    if store.list(tenant).await?.len() >= MAX_SOURCES_PER_TENANT {
        return Err(AppError::Conflict(format!(
            "the tenant already has {MAX_SOURCES_PER_TENANT} sources, the most it may hold: delete one first"
        )));
    }
    // A collision of 256 random bits does not happen; a retry costs nothing.
    for _ in 0..3 {
        let token = generate_token();
        let source = Source {
            id: SourceId::generate(),
            tenant_id: tenant.clone(),
            name: name.clone(),
            platform: input.platform,
            secret_hash: input.secret.as_deref().map(hash),
            created_at: now,
            token_hash: hash(&token),
            previous_token: None,
        };
        match store.create(&source).await {
            Ok(()) => {
                return Ok(CreatedSource {
                    id: source.id,
                    name: source.name,
                    platform: source.platform,
                    url: url(base_url, &token),
                    secret: input.secret,
                    created_at: now,
                });
            }
            Err(StoreError::AlreadyExists) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::AlreadyExists.into())
}

pub async fn list(
    store: &dyn SourceStore,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> Result<SourceList, AppError> {
    Ok(SourceList {
        items: store
            .list(tenant)
            .await?
            .iter()
            .map(|s| SourceView::of(s, now))
            .collect(),
    })
}

/// The tenant's source; another tenant's id is a 404 like an unknown one.
pub async fn get(
    store: &dyn SourceStore,
    tenant: &TenantId,
    raw_id: &str,
    now: DateTime<Utc>,
) -> Result<SourceView, AppError> {
    let source = store
        .get(tenant, &parse_id(raw_id)?)
        .await?
        .ok_or(AppError::NotFound("source"))?;
    Ok(SourceView::of(&source, now))
}

/// Delete the source: its URLs answer 404 from the next post on.
pub async fn delete(
    store: &dyn SourceStore,
    tenant: &TenantId,
    raw_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if store
        .delete(tenant, &parse_id(raw_id)?, now + DELETED_KEPT)
        .await?
    {
        Ok(())
    } else {
        Err(AppError::NotFound("source"))
    }
}

/// A new URL; the current one keeps working for the grace period.
pub async fn rotate(
    store: &dyn SourceStore,
    tenant: &TenantId,
    raw_id: &str,
    input: RotateSource,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<RotatedSource, AppError> {
    let id = parse_id(raw_id)?;
    let grace = validate_grace(input.grace_hours)?;
    // Another rotation in between fails the write: read again.
    for _ in 0..3 {
        let current = store
            .get(tenant, &id)
            .await?
            .ok_or(AppError::NotFound("source"))?;
        let token = generate_token();
        let next = current.rotated(hash(&token), now, grace);
        if store.rotate(&current, &next).await? {
            return Ok(RotatedSource {
                id,
                url: url(base_url, &token),
                previous_url_expires_at: next.previous_token.map(|p| p.expires_at),
            });
        }
    }
    Err(AppError::Conflict(
        "the source was rotated by another request meanwhile: try again".into(),
    ))
}

/// What a source URL answers a post, with a 200 (Rocket.Chat counts any
/// other status as a failure), once the event's deliveries are queued.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SourceAnswer {
    pub success: bool,
    /// The event's id, derived from the payload (`domain::inbound`).
    pub event_id: crate::domain::ids::EventId,
    /// True when the same post was accepted before: its deliveries are not made twice.
    pub duplicate: bool,
}

/// Why a post to a source URL is refused before its payload is read.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No source has this URL (never had, or its grace ended): 401.
    UnknownUrl,
    /// The source was deleted: 404.
    Deleted,
}

/// The source a URL token names (a token not shaped like one is refused
/// without a store read).
pub async fn resolve(
    store: &dyn SourceStore,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<Source, Refused>, AppError> {
    if !is_token(token) {
        return Ok(Err(Refused::UnknownUrl));
    }
    let token_hash = hash(token);
    Ok(match store.by_token_hash(&token_hash).await? {
        None => Err(Refused::UnknownUrl),
        Some(SourceLookup::Deleted) => Err(Refused::Deleted),
        Some(SourceLookup::Live(source)) => {
            let current =
                source::constant_time_eq(source.token_hash.as_bytes(), token_hash.as_bytes());
            let in_grace = source.previous_token.as_ref().is_some_and(|p| {
                p.expires_at > now
                    && source::constant_time_eq(p.hash.as_bytes(), token_hash.as_bytes())
            });
            if current || in_grace {
                Ok(source)
            } else {
                Err(Refused::UnknownUrl)
            }
        }
    })
}

/// A post to a source URL, as the intake received it.
pub struct Post<'a> {
    pub content_type: Option<&'a str>,
    /// `X-RocketChat-Livechat-Token`.
    pub rocketchat_token: Option<&'a str>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

/// The password of `Authorization: Basic base64(user:password)`.
fn basic_password(authorization: Option<&str>) -> Option<String> {
    let encoded = authorization?.strip_prefix("Basic ")?.trim();
    let decoded = String::from_utf8(B64.decode(encoded).ok()?).ok()?;
    decoded.split_once(':').map(|(_, p)| p.to_string())
}

/// LiveChat's body credential (`secret_key`, else `token`), read before the
/// payload is, so a post with a wrong one is refused unread.
fn livechat_body_secret(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Credential {
        #[serde(default)]
        secret_key: Option<String>,
        #[serde(default)]
        token: Option<String>,
    }
    let c: Credential = serde_json::from_slice(body).ok()?;
    c.secret_key.or(c.token)
}

/// Check a post's credential against the source's secret, then parse its
/// payload: `Unauthorized` (401) for a missing or wrong credential, a
/// `ValidationError` (400) naming what is wrong with the payload.
pub fn receive(source: &Source, post: &Post<'_>) -> Result<Event, AppError> {
    if source.secret_hash.is_some() {
        let basic = basic_password(post.authorization);
        let own = match source.platform {
            Platform::Rocketchat => post.rocketchat_token.map(str::to_string),
            Platform::Livechat => livechat_body_secret(post.body),
            Platform::Olark | Platform::Amplifyreach => None,
        };
        // Both are checked, whichever is present, in constant time each.
        let by_basic = basic.is_some() && source.secret_matches(basic.as_deref());
        let by_own = own.is_some() && source.secret_matches(own.as_deref());
        if !(by_basic || by_own) {
            return Err(AppError::Unauthorized);
        }
    }
    let parsed =
        inbound::parse(source.platform, post.content_type, post.body).map_err(|e| {
            match e.field {
                Some(field) => ValidationError::field(format!("body.{field}"), e.message),
                None => ValidationError::field("body", e.message),
            }
        })?;
    Ok(parsed.event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemorySourceStore;
    use crate::domain::catalogue::EventType;
    use chrono::Duration;

    const BASE: &str = "https://hooks.example.com/";

    fn token_of(url: &str) -> &str {
        url.rsplit('/').next().unwrap()
    }

    async fn new_source(
        store: &MemorySourceStore,
        tenant: &TenantId,
        platform: Platform,
        secret: Option<&str>,
    ) -> CreatedSource {
        let input = NewSource {
            name: "chat".into(),
            platform,
            secret: secret.map(str::to_string),
        };
        create(store, tenant, input, BASE, Utc::now())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_source_url_is_absolute_unguessable_and_stored_hashed() {
        let store = MemorySourceStore::default();
        let tenant = TenantId::generate();
        let created = new_source(&store, &tenant, Platform::Olark, None).await;
        assert!(
            created.url.starts_with("https://hooks.example.com/in/chs_"),
            "{}",
            created.url
        );
        let token = token_of(&created.url);
        assert!(is_token(token));
        assert!(store.holds_token_hash(&hash(token)));
        assert!(!store.holds_token_hash(token));
        let resolved = resolve(&store, token, Utc::now()).await.unwrap().unwrap();
        assert_eq!(resolved.id, created.id);
        // a token one character off, or not shaped like one, is unknown
        let mut other = token.to_string();
        other.pop();
        other.push(if token.ends_with('a') { 'b' } else { 'a' });
        for bad in [other.as_str(), "chs_short", "", "../v1/events"] {
            assert_eq!(
                resolve(&store, bad, Utc::now()).await.unwrap().unwrap_err(),
                Refused::UnknownUrl
            );
        }
    }

    #[tokio::test]
    async fn another_tenants_source_is_not_found() {
        let store = MemorySourceStore::default();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let created = new_source(&store, &a, Platform::Livechat, Some("k")).await;
        let id = created.id.as_str();
        let now = Utc::now();
        assert!(matches!(
            get(&store, &b, id, now).await,
            Err(AppError::NotFound("source"))
        ));
        assert!(matches!(
            delete(&store, &b, id, now).await,
            Err(AppError::NotFound("source"))
        ));
        let rotated = rotate(&store, &b, id, RotateSource::default(), BASE, now).await;
        assert!(matches!(rotated, Err(AppError::NotFound("source"))));
        assert!(list(&store, &b, now).await.unwrap().items.is_empty());
        assert!(get(&store, &a, id, now).await.unwrap().has_secret);
        assert!(matches!(
            get(&store, &a, "int_1", now).await,
            Err(AppError::NotFound("source"))
        ));
    }

    #[tokio::test]
    async fn a_rotated_url_works_for_its_grace_and_a_deleted_one_is_gone() {
        let store = MemorySourceStore::default();
        let tenant = TenantId::generate();
        let created = new_source(&store, &tenant, Platform::Rocketchat, None).await;
        let old = token_of(&created.url).to_string();
        let now = Utc::now();
        let rotated = rotate(
            &store,
            &tenant,
            created.id.as_str(),
            RotateSource::default(),
            BASE,
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            rotated.previous_url_expires_at,
            Some(now + Duration::hours(24))
        );
        let new = token_of(&rotated.url).to_string();
        assert_ne!(new, old);
        // both work during the grace; the old one no more after it
        assert!(resolve(&store, &new, now).await.unwrap().is_ok());
        assert!(
            resolve(&store, &old, now + Duration::hours(23))
                .await
                .unwrap()
                .is_ok()
        );
        assert_eq!(
            resolve(&store, &old, now + Duration::hours(25))
                .await
                .unwrap()
                .unwrap_err(),
            Refused::UnknownUrl
        );
        // a second rotation drops the first URL at once
        let again = RotateSource {
            grace_hours: Some(1),
        };
        rotate(&store, &tenant, created.id.as_str(), again, BASE, now)
            .await
            .unwrap();
        assert!(!store.holds_token_hash(&hash(&old)));
        assert!(resolve(&store, &new, now).await.unwrap().is_ok());
        // deleting: every URL of the source answers "deleted"
        delete(&store, &tenant, created.id.as_str(), now)
            .await
            .unwrap();
        assert_eq!(
            resolve(&store, &new, now).await.unwrap().unwrap_err(),
            Refused::Deleted
        );
        assert!(list(&store, &tenant, now).await.unwrap().items.is_empty());
        let too_long = RotateSource {
            grace_hours: Some(200),
        };
        let err = rotate(&store, &tenant, created.id.as_str(), too_long, BASE, now).await;
        assert!(
            matches!(err, Err(AppError::Invalid(e)) if e.field.as_deref() == Some("grace_hours"))
        );
    }

    fn source(platform: Platform, secret: Option<&str>) -> Source {
        Source {
            id: SourceId::generate(),
            tenant_id: TenantId::generate(),
            name: "s".into(),
            platform,
            secret_hash: secret.map(hash),
            created_at: Utc::now(),
            token_hash: hash("t"),
            previous_token: None,
        }
    }

    const OFFLINE: &[u8] = br#"{"type": "LivechatOfflineMessage", "sentAt": "2016-06-01T19:55:53.867Z", "visitor": {"name": "n", "email": "e@example.com"}, "message": "m"}"#;

    fn post<'a>(body: &'a [u8]) -> Post<'a> {
        Post {
            content_type: Some("application/json"),
            rocketchat_token: None,
            authorization: None,
            body,
        }
    }

    #[test]
    fn platform_credentials_are_checked_before_the_payload() {
        let rc = source(Platform::Rocketchat, Some("rc-secret"));
        // the header, or HTTP Basic's password
        let with_header = Post {
            rocketchat_token: Some("rc-secret"),
            ..post(OFFLINE)
        };
        assert_eq!(
            receive(&rc, &with_header).unwrap().kind,
            EventType::OfflineMessage
        );
        let basic = format!("Basic {}", B64.encode("user:rc-secret"));
        let with_basic = Post {
            authorization: Some(&basic),
            ..post(OFFLINE)
        };
        assert!(receive(&rc, &with_basic).is_ok());
        for wrong in [Some("rc-secreT"), Some(""), None] {
            let p = Post {
                rocketchat_token: wrong,
                ..post(OFFLINE)
            };
            assert!(
                matches!(receive(&rc, &p), Err(AppError::Unauthorized)),
                "{wrong:?}"
            );
        }
        // a wrong credential is refused before a bad payload is read
        let p = Post {
            rocketchat_token: Some("nope"),
            ..post(b"not json")
        };
        assert!(matches!(receive(&rc, &p), Err(AppError::Unauthorized)));
        // LiveChat: the body's secret_key (v3) or token (v2)
        let lc = source(Platform::Livechat, Some("lc-key"));
        let v3 = br#"{"event_type": "chat_changed", "secret_key": "lc-key", "chat": {"id": "c"}}"#;
        assert!(receive(&lc, &post(v3)).is_ok());
        let v2 = br#"{"event_type": "chat_changed", "token": "lc-key", "chat": {"id": "c"}}"#;
        assert!(receive(&lc, &post(v2)).is_ok());
        let wrong = br#"{"event_type": "chat_changed", "token": "other", "chat": {"id": "c"}}"#;
        assert!(matches!(
            receive(&lc, &post(wrong)),
            Err(AppError::Unauthorized)
        ));
        // no secret: the URL's token alone admits a post
        assert!(receive(&source(Platform::Rocketchat, None), &post(OFFLINE)).is_ok());
    }

    #[test]
    fn a_bad_payload_is_a_400_naming_the_problem() {
        let rc = source(Platform::Rocketchat, None);
        let err = receive(&rc, &post(br#"{"type": "Bogus"}"#)).unwrap_err();
        match err {
            AppError::Invalid(e) => {
                assert_eq!(e.field.as_deref(), Some("body.type"));
                assert!(e.message.contains("`Bogus`"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}
