//! Sources, an item each, and an item per URL token naming one:
//!
//! | item   | pk                  | sk         | attributes |
//! |--------|---------------------|------------|------------|
//! | source | `T#{tenant}`        | `SRC#{id}` | tenant_id, source_id, name, platform, secret_hash?, created_at, token_hash, previous_token_hash?, previous_expires_at? |
//! | token  | `IN#{token sha256}` | `SOURCE`   | tenant_id, source_id, expires_at? (TTL: a rotated-out token), deleted? |
//!
//! A post's check is two strongly consistent GetItems: the token, then its
//! source. A rotation is one transaction (the source only while its token is
//! still the one read, the new token item, the old one's expiry, the drop of
//! an older one); deleting turns the tokens into tombstones for
//! `DELETED_KEPT` (TTL), so a deleted source's URL answers 404 before it
//! becomes an unknown one. Every item carries `tenant_id` or sits in the
//! tenant's partition: the tenant purge removes them.
use super::is_condition_failure;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::keys::{PK, SK, tenant_pk};
use super::{
    Item, build_error, create_all, epoch, get_consistent, query_prefix, s, string_attr, unavailable,
};
use crate::domain::ids::TenantId;
use crate::domain::inbound::Platform;
use crate::domain::source::{PreviousToken, Source, SourceId};
use crate::ports::{SourceLookup, SourceStore, StoreError};

pub const SOURCE_SK_PREFIX: &str = "SRC#";
pub const TOKEN_SK: &str = "SOURCE";
const WHAT: &str = "source";

pub fn source_sk(id: &SourceId) -> String {
    format!("{SOURCE_SK_PREFIX}{id}")
}

pub fn token_pk(token_hash: &str) -> String {
    format!("IN#{token_hash}")
}

pub struct DynamoDbSourceStore {
    client: Client,
    table: String,
}

fn time(at: DateTime<Utc>) -> AttributeValue {
    s(at.to_rfc3339())
}

fn source_item(source: &Source) -> Item {
    let mut item: Item = [
        (PK.to_string(), s(tenant_pk(&source.tenant_id))),
        (SK.to_string(), s(source_sk(&source.id))),
        ("tenant_id".to_string(), s(source.tenant_id.as_str())),
        ("source_id".to_string(), s(source.id.as_str())),
        ("name".to_string(), s(&source.name)),
        ("platform".to_string(), s(source.platform.as_str())),
        ("created_at".to_string(), time(source.created_at)),
        ("token_hash".to_string(), s(&source.token_hash)),
    ]
    .into();
    if let Some(secret) = &source.secret_hash {
        item.insert("secret_hash".into(), s(secret));
    }
    if let Some(previous) = &source.previous_token {
        item.insert("previous_token_hash".into(), s(&previous.hash));
        item.insert("previous_expires_at".into(), time(previous.expires_at));
    }
    item
}

fn token_item(source: &Source, token_hash: &str) -> Item {
    [
        (PK.to_string(), s(token_pk(token_hash))),
        (SK.to_string(), s(TOKEN_SK)),
        ("tenant_id".to_string(), s(source.tenant_id.as_str())),
        ("source_id".to_string(), s(source.id.as_str())),
    ]
    .into()
}

fn parse_time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(string_attr(item, name, WHAT)?)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("{WHAT}: `{name}` is not a time")))
}

fn source_from_item(item: &Item) -> Result<Source, StoreError> {
    let corrupt = |field: &str| StoreError::Corrupt(format!("{WHAT}: `{field}` is not valid"));
    let optional = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    let previous_token = match optional("previous_token_hash") {
        Some(hash) => Some(PreviousToken {
            hash,
            expires_at: parse_time(item, "previous_expires_at")?,
        }),
        None => None,
    };
    Ok(Source {
        id: SourceId::parse(string_attr(item, "source_id", WHAT)?)
            .map_err(|_| corrupt("source_id"))?,
        tenant_id: TenantId::parse(string_attr(item, "tenant_id", WHAT)?)
            .map_err(|_| corrupt("tenant_id"))?,
        name: string_attr(item, "name", WHAT)?.to_string(),
        platform: string_attr(item, "platform", WHAT)?
            .parse::<Platform>()
            .map_err(|_| corrupt("platform"))?,
        secret_hash: optional("secret_hash"),
        created_at: parse_time(item, "created_at")?,
        token_hash: string_attr(item, "token_hash", WHAT)?.to_string(),
        previous_token,
    })
}

impl DynamoDbSourceStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get_item(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        get_consistent(&self.client, &self.table, pk, sk).await
    }

    fn delete_token(&self, token_hash: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(token_pk(token_hash)))
            .key(SK, s(TOKEN_SK))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Set a token item's TTL (and, for a deleted source's, its tombstone;
    /// a rotated-out token only while its item exists).
    fn expire_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
        deleted: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let expression = if deleted {
            "SET expires_at = :at, deleted = :yes"
        } else {
            "SET expires_at = :at"
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(token_pk(token_hash)))
            .key(SK, s(TOKEN_SK))
            .update_expression(expression)
            .expression_attribute_values(":at", epoch(at));
        if deleted {
            update = update.expression_attribute_values(":yes", AttributeValue::Bool(true));
        } else {
            update = update.condition_expression("attribute_exists(pk)");
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(build_error)?)
            .build())
    }

    /// Run a transaction; `false` when one of its conditions did not hold.
    async fn transact(&self, actions: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }
}

#[async_trait]
impl SourceStore for DynamoDbSourceStore {
    async fn create(&self, source: &Source) -> Result<(), StoreError> {
        create_all(
            &self.client,
            &self.table,
            vec![source_item(source), token_item(source, &source.token_hash)],
        )
        .await
    }

    async fn get(&self, tenant: &TenantId, id: &SourceId) -> Result<Option<Source>, StoreError> {
        self.get_item(tenant_pk(tenant), source_sk(id))
            .await?
            .as_ref()
            .map(source_from_item)
            .transpose()
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<Source>, StoreError> {
        query_prefix(
            &self.client,
            &self.table,
            tenant_pk(tenant),
            SOURCE_SK_PREFIX,
        )
        .await?
        .iter()
        .map(source_from_item)
        .collect()
    }

    async fn rotate(&self, previous: &Source, next: &Source) -> Result<bool, StoreError> {
        let put_source = Put::builder()
            .table_name(&self.table)
            .set_item(Some(source_item(next)))
            .condition_expression("token_hash = :read")
            .expression_attribute_values(":read", s(&previous.token_hash))
            .build()
            .map_err(build_error)?;
        let put_token = Put::builder()
            .table_name(&self.table)
            .set_item(Some(token_item(next, &next.token_hash)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        let mut actions = vec![
            TransactWriteItem::builder().put(put_source).build(),
            TransactWriteItem::builder().put(put_token).build(),
        ];
        actions.push(match &next.previous_token {
            Some(kept) => self.expire_token(&previous.token_hash, kept.expires_at, false)?,
            None => self.delete_token(&previous.token_hash)?,
        });
        if let Some(older) = &previous.previous_token {
            actions.push(self.delete_token(&older.hash)?);
        }
        self.transact(actions).await
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        id: &SourceId,
        deleted_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // A rotation between the read and the write fails the condition:
        // read again (a few times; each rotation is a person's request).
        for _ in 0..3 {
            let Some(source) = self.get(tenant, id).await? else {
                return Ok(false);
            };
            if self.delete_read(&source, deleted_until).await? {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(
            "the source kept changing while being deleted".into(),
        ))
    }

    async fn by_token_hash(&self, token_hash: &str) -> Result<Option<SourceLookup>, StoreError> {
        let Some(token) = self.get_item(token_pk(token_hash), TOKEN_SK.into()).await? else {
            return Ok(None);
        };
        if matches!(token.get("deleted"), Some(AttributeValue::Bool(true))) {
            return Ok(Some(SourceLookup::Deleted));
        }
        let tenant = TenantId::parse(string_attr(&token, "tenant_id", "source token")?)
            .map_err(|_| StoreError::Corrupt("source token: `tenant_id` is not valid".into()))?;
        let id = SourceId::parse(string_attr(&token, "source_id", "source token")?)
            .map_err(|_| StoreError::Corrupt("source token: `source_id` is not valid".into()))?;
        Ok(self.get(&tenant, &id).await?.map(SourceLookup::Live))
    }
}

impl DynamoDbSourceStore {
    /// Delete `source` as read, its tokens turned into tombstones; `false`
    /// when it changed meanwhile.
    async fn delete_read(
        &self,
        source: &Source,
        deleted_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let delete_source = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(&source.tenant_id)))
            .key(SK, s(source_sk(&source.id)))
            .condition_expression("token_hash = :read")
            .expression_attribute_values(":read", s(&source.token_hash))
            .build()
            .map_err(build_error)?;
        let mut actions = vec![
            TransactWriteItem::builder().delete(delete_source).build(),
            self.expire_token(&source.token_hash, deleted_until, true)?,
        ];
        if let Some(previous) = &source.previous_token {
            actions.push(self.expire_token(&previous.hash, deleted_until, true)?);
        }
        self.transact(actions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_maps_to_its_item_and_back() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let source = Source {
            id: SourceId::parse("src_1").unwrap(),
            tenant_id: TenantId::parse("ten_a").unwrap(),
            name: "Rocket.Chat".into(),
            platform: Platform::Rocketchat,
            secret_hash: Some("ab".into()),
            created_at: at,
            token_hash: "cd".into(),
            previous_token: Some(PreviousToken {
                hash: "ef".into(),
                expires_at: at,
            }),
        };
        let item = source_item(&source);
        assert_eq!(source_from_item(&item).unwrap(), source);
        let plain = Source {
            secret_hash: None,
            previous_token: None,
            ..source
        };
        assert_eq!(source_from_item(&source_item(&plain)).unwrap(), plain);
        let mut bad = item.clone();
        bad.insert("platform".into(), s("icq"));
        assert!(matches!(
            source_from_item(&bad),
            Err(StoreError::Corrupt(_))
        ));
    }
}
