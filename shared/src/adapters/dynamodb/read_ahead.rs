//! A dispatcher batch's reads in one BatchGetItem: its events
//! (`E#{tenant}#{event}`, `EVENT`), its integrations (`T#{tenant}`,
//! `I#{id}`) and its tenants (`T#{tenant}`, `TENANT`), strongly consistent,
//! as each store's own reads are. Keys DynamoDB leaves unprocessed after a
//! few rounds, and items that do not decode, are left out of the answer:
//! the jobs concerned read them for themselves, through the store whose
//! errors they know how to report.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

use super::events::stored_event;
use super::keys::{EVENT_SK, PK, SK, TENANT_SK, event_pk, integration_sk, tenant_pk};
use super::tenants::tenant_from_item;
use super::{Item, batch_get, from_item, s};
use crate::ports::{AheadItems, AheadKeys, ReadAhead, StoreError};

pub struct DynamoDbReadAhead {
    client: Client,
    table: String,
}

impl DynamoDbReadAhead {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// What a key asked for is, by its index in the request's keys.
#[derive(Clone, Copy)]
enum Asked {
    Event(usize),
    Integration(usize),
    Tenant(usize),
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// An item's (pk, sk).
fn item_key(item: &Item) -> Option<(&str, &str)> {
    match (item.get(PK), item.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some((pk, sk)),
        _ => None,
    }
}

#[async_trait]
impl ReadAhead for DynamoDbReadAhead {
    async fn read_ahead(&self, keys: &AheadKeys) -> Result<AheadItems, StoreError> {
        let mut asked: HashMap<(String, String), Asked> = HashMap::new();
        for (i, (tenant, id)) in keys.events.iter().enumerate() {
            asked.insert((event_pk(tenant, id), EVENT_SK.into()), Asked::Event(i));
        }
        for (i, (tenant, id)) in keys.integrations.iter().enumerate() {
            asked.insert(
                (tenant_pk(tenant), integration_sk(id)),
                Asked::Integration(i),
            );
        }
        for (i, tenant) in keys.tenants.iter().enumerate() {
            asked.insert((tenant_pk(tenant), TENANT_SK.into()), Asked::Tenant(i));
        }
        if asked.is_empty() {
            return Ok(AheadItems::default());
        }
        let request = asked
            .keys()
            .map(|(pk, sk)| key(pk.clone(), sk.clone()))
            .collect();
        let (items, left) = batch_get(&self.client, &self.table, request).await?;
        // Every key asked is not stored until an item says otherwise...
        let mut found = AheadItems {
            events: keys.events.iter().map(|k| (k.clone(), None)).collect(),
            integrations: keys
                .integrations
                .iter()
                .map(|k| (k.clone(), None))
                .collect(),
            tenants: keys.tenants.iter().map(|k| (k.clone(), None)).collect(),
        };
        // ...and what was not read, or does not decode, its job reads itself.
        let unread = |what: Asked, found: &mut AheadItems| match what {
            Asked::Event(i) => {
                found.events.remove(&keys.events[i]);
            }
            Asked::Integration(i) => {
                found.integrations.remove(&keys.integrations[i]);
            }
            Asked::Tenant(i) => {
                found.tenants.remove(&keys.tenants[i]);
            }
        };
        for item in &left {
            if let Some((pk, sk)) = item_key(item)
                && let Some(&what) = asked.get(&(pk.to_string(), sk.to_string()))
            {
                unread(what, &mut found);
            }
        }
        for item in items {
            let Some(&what) =
                item_key(&item).and_then(|(pk, sk)| asked.get(&(pk.to_string(), sk.to_string())))
            else {
                continue;
            };
            let decoded = match what {
                Asked::Event(i) => stored_event(&item).map(|stored| {
                    found.events.insert(keys.events[i].clone(), Some(stored));
                }),
                Asked::Integration(i) => from_item(item, "integration").map(|integration| {
                    found
                        .integrations
                        .insert(keys.integrations[i].clone(), Some(integration));
                }),
                Asked::Tenant(i) => tenant_from_item(&item).map(|tenant| {
                    found
                        .tenants
                        .insert(keys.tenants[i].clone(), Some(tenant.status));
                }),
            };
            if decoded.is_err() {
                unread(what, &mut found);
            }
        }
        Ok(found)
    }
}
