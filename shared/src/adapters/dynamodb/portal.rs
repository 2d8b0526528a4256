//! Portal sessions, two items each:
//!
//! | item                 | pk                   | sk           | attributes |
//! |----------------------|----------------------|--------------|------------|
//! | session              | `P#{token sha256}`   | `PORTAL`     | tenant_id, session_id, read_only, created_at, expires_at (TTL) |
//! | the tenant's index   | `T#{tenant}`         | `PS#{id}`    | token_hash, expires_at (TTL) |
//!
//! A request's check is one strongly consistent GetItem of the session item;
//! revoking deletes both items in one transaction, so the next check misses.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::keys::{EXPIRES_AT, PK, SK, tenant_pk};
use super::{
    Item, build_error, create_all, epoch, get_consistent, query_prefix, s, string_attr,
    to_attribute, unavailable,
};
use crate::domain::ids::{PortalSessionId, TenantId};
use crate::ports::{PortalSession, PortalSessionStore, StoreError};

pub const SESSION_SK: &str = "PORTAL";
pub const INDEX_SK_PREFIX: &str = "PS#";
/// Sessions revoked per transaction (two deletes each; DynamoDB takes 100 actions).
const REVOKE_CHUNK: usize = 50;

pub fn session_pk(token_hash: &str) -> String {
    format!("P#{token_hash}")
}

pub fn index_sk(id: &PortalSessionId) -> String {
    format!("{INDEX_SK_PREFIX}{id}")
}

pub struct DynamoDbPortalSessionStore {
    client: Client,
    table: String,
}

fn session_from_item(item: &Item) -> Result<PortalSession, StoreError> {
    const WHAT: &str = "portal session";
    let corrupt = |field: &str| StoreError::Corrupt(format!("{WHAT}: `{field}` is not valid"));
    let tenant_id =
        TenantId::parse(string_attr(item, "tenant_id", WHAT)?).map_err(|_| corrupt("tenant_id"))?;
    let id = PortalSessionId::parse(string_attr(item, "session_id", WHAT)?)
        .map_err(|_| corrupt("session_id"))?;
    let read_only = match item.get("read_only") {
        Some(AttributeValue::Bool(b)) => *b,
        _ => return Err(corrupt("read_only")),
    };
    let created_at = DateTime::parse_from_rfc3339(string_attr(item, "created_at", WHAT)?)
        .map_err(|_| corrupt("created_at"))?
        .with_timezone(&Utc);
    let expires_at = match item.get(EXPIRES_AT) {
        Some(AttributeValue::N(n)) => n
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| corrupt(EXPIRES_AT))?,
        _ => return Err(corrupt(EXPIRES_AT)),
    };
    Ok(PortalSession {
        id,
        tenant_id,
        read_only,
        created_at,
        expires_at,
    })
}

impl DynamoDbPortalSessionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn delete(&self, pk: String, sk: String) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Delete sessions, given as (index sort key, token hash), both items each.
    async fn delete_sessions(
        &self,
        tenant: &TenantId,
        sessions: &[(String, String)],
    ) -> Result<(), StoreError> {
        for chunk in sessions.chunks(REVOKE_CHUNK) {
            let mut actions = Vec::with_capacity(chunk.len() * 2);
            for (sk, hash) in chunk {
                actions.push(self.delete(session_pk(hash), SESSION_SK.into())?);
                actions.push(self.delete(tenant_pk(tenant), sk.clone())?);
            }
            self.client
                .transact_write_items()
                .set_transact_items(Some(actions))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

#[async_trait]
impl PortalSessionStore for DynamoDbPortalSessionStore {
    async fn create(&self, session: &PortalSession, token_hash: &str) -> Result<(), StoreError> {
        let expires = epoch(session.expires_at);
        let session_item: Item = [
            (PK.to_string(), s(session_pk(token_hash))),
            (SK.to_string(), s(SESSION_SK)),
            ("tenant_id".to_string(), s(session.tenant_id.as_str())),
            ("session_id".to_string(), s(session.id.as_str())),
            (
                "read_only".to_string(),
                AttributeValue::Bool(session.read_only),
            ),
            ("created_at".to_string(), to_attribute(&session.created_at)?),
            (EXPIRES_AT.to_string(), expires.clone()),
        ]
        .into();
        let index_item: Item = [
            (PK.to_string(), s(tenant_pk(&session.tenant_id))),
            (SK.to_string(), s(index_sk(&session.id))),
            ("token_hash".to_string(), s(token_hash)),
            (EXPIRES_AT.to_string(), expires),
        ]
        .into();
        create_all(&self.client, &self.table, vec![session_item, index_item]).await
    }

    async fn by_token_hash(&self, token_hash: &str) -> Result<Option<PortalSession>, StoreError> {
        let item = get_consistent(
            &self.client,
            &self.table,
            session_pk(token_hash),
            SESSION_SK,
        )
        .await?;
        item.as_ref().map(session_from_item).transpose()
    }

    async fn revoke(&self, tenant: &TenantId, id: &PortalSessionId) -> Result<bool, StoreError> {
        let sk = index_sk(id);
        let Some(item) = get_consistent(&self.client, &self.table, tenant_pk(tenant), &sk).await?
        else {
            return Ok(false);
        };
        let hash = string_attr(&item, "token_hash", "portal session index")?.to_string();
        self.delete_sessions(tenant, &[(sk, hash)]).await?;
        Ok(true)
    }

    async fn revoke_all(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let index = query_prefix(
            &self.client,
            &self.table,
            tenant_pk(tenant),
            INDEX_SK_PREFIX,
        )
        .await?;
        let mut sessions = Vec::with_capacity(index.len());
        for item in &index {
            let sk = string_attr(item, SK, "portal session index")?.to_string();
            let hash = string_attr(item, "token_hash", "portal session index")?.to_string();
            sessions.push((sk, hash));
        }
        self.delete_sessions(tenant, &sessions).await?;
        Ok(sessions.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_maps_back_to_its_session_and_a_bad_one_is_corrupt() {
        let at = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let mut item: Item = [
            ("tenant_id".to_string(), s("ten_a")),
            ("session_id".to_string(), s("ps_1")),
            ("read_only".to_string(), AttributeValue::Bool(true)),
            ("created_at".to_string(), s("2030-03-17T17:46:40Z")),
            (EXPIRES_AT.to_string(), epoch(at)),
        ]
        .into();
        let session = session_from_item(&item).unwrap();
        assert_eq!(session.expires_at, at);
        assert!(session.read_only);
        assert_eq!(session.tenant_id.as_str(), "ten_a");
        item.insert("read_only".into(), s("yes"));
        assert!(matches!(
            session_from_item(&item),
            Err(StoreError::Corrupt(_))
        ));
    }
}
