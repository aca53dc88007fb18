//! Customer rows and their special treatment. Every query is scoped by organization, so a
//! customer of another organization is simply not found.

use chrono::{DateTime, SubsecRound, Utc};
use entity::customer::{self, ActiveModel, Column, Entity};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, sea_query::LockType,
};
use uuid::Uuid;

use serde_json::json;

use super::{ConflictRule, Repository, history, identification};
use crate::{
    domain::{
        customer::{Customer, CustomerPage, ListQuery, NewCustomer},
        history::{Action, Change},
        special_treatment::SpecialTreatment,
    },
    error::Error,
};

/// The unique index on `(org_id, external_id)`.
const EXTERNAL_ID_TAKEN: ConflictRule = ConflictRule {
    field: "external_id",
    message: "is already registered in this organization",
};

/// What a customer DELETE found, decided inside its transaction.
enum Deleted {
    Done,
    NoCustomer,
    /// The effective status of an unfinished identification process.
    Unfinished(String),
}

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("customer {id} not found"))
}

impl From<customer::Model> for Customer {
    fn from(row: customer::Model) -> Self {
        Customer {
            id: row.id,
            external_id: row.external_id,
            display_name: row.display_name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Repository {
    /// Registers a customer; `Conflict` when the organization already has its `external_id`.
    pub async fn create_customer(&self, org: &str, new: NewCustomer) -> Result<Customer, Error> {
        // Both stores keep microseconds: truncate now so the answer equals later reads.
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(6);
        let row = ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org.to_owned()),
            external_id: Set(new.external_id),
            display_name: Set(new.display_name),
            special_treatment: Set(entity::SpecialTreatmentValues::default()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let inserted = self
            .write_checked(EXTERNAL_ID_TAKEN, |w| async move {
                let txn = w.db().begin().await?;
                let inserted: customer::Model =
                    Entity::insert(row).exec_with_returning(&txn).await?;
                let change = Change::of_customer(
                    inserted.id,
                    Action::CustomerCreated,
                    json!({
                        "external_id": inserted.external_id,
                        "display_name": inserted.display_name,
                    }),
                );
                history::append(&txn, org, change).await?;
                txn.commit().await?;
                Ok(inserted)
            })
            .await?;
        Ok(inserted.into())
    }

    pub async fn get_customer(&self, org: &str, id: Uuid) -> Result<Customer, Error> {
        let rows = self
            .read(|db| db.all(Entity::find_by_id(id).filter(Column::OrgId.eq(org))))
            .await?;
        rows.into_iter()
            .next()
            .map(Customer::from)
            .ok_or_else(|| not_found(id))
    }

    /// One page in id order (UUIDv7, so registration order), plus whether more follow.
    pub async fn list_customers(&self, org: &str, query: ListQuery) -> Result<CustomerPage, Error> {
        let mut select = Entity::find()
            .filter(Column::OrgId.eq(org))
            .order_by_asc(Column::Id)
            .limit(query.limit + 1);
        if let Some(after) = query.after {
            select = select.filter(Column::Id.gt(after));
        }
        if let Some(external_id) = query.external_id {
            select = select.filter(Column::ExternalId.eq(external_id));
        }
        let mut rows = self.read(|db| db.all(select)).await?;
        let more = rows.len() as u64 > query.limit;
        rows.truncate(query.limit as usize);
        let next = more.then(|| rows.last().map(|row| row.id)).flatten();
        Ok(CustomerPage {
            items: rows.into_iter().map(Customer::from).collect(),
            next,
        })
    }

    /// Deletes the customer and, being on its row, its special treatment; its category
    /// memberships and external accounts go with it (`ON DELETE CASCADE`). One transaction that
    /// locks the row first (`FOR UPDATE` on PostgreSQL, which waits for an identification create
    /// holding it; SQLite's writers take turns anyway): `409` while one of its identification
    /// processes is unfinished at `now`. Finished processes stay stored (retention),
    /// unreachable once it is gone.
    pub async fn delete_customer(&self, org: &str, id: Uuid) -> Result<(), Error> {
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(6);
        let outcome = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let found = Entity::find_by_id(id)
                    .select_only()
                    .column(Column::Id)
                    .filter(Column::OrgId.eq(org))
                    .lock(LockType::Update)
                    .into_tuple::<Uuid>()
                    .all(&txn)
                    .await?;
                if found.is_empty() {
                    txn.rollback().await?;
                    return Ok(Deleted::NoCustomer);
                }
                if let Some(status) = identification::unfinished_status(&txn, org, id, now).await? {
                    txn.rollback().await?;
                    return Ok(Deleted::Unfinished(status));
                }
                Entity::delete_many()
                    .filter(Column::Id.eq(id))
                    .filter(Column::OrgId.eq(org))
                    .exec(&txn)
                    .await?;
                let change = Change::of_customer(id, Action::CustomerDeleted, json!({}));
                history::append(&txn, org, change).await?;
                txn.commit().await?;
                Ok(Deleted::Done)
            })
            .await?;
        match outcome {
            Deleted::Done => Ok(()),
            Deleted::NoCustomer => Err(not_found(id)),
            Deleted::Unfinished(status) => Err(identification::customer_has_unfinished(&status)),
        }
    }

    /// The customer's special treatment (through its store's fast paths where it can).
    pub async fn get_special_treatment(
        &self,
        org: &str,
        id: Uuid,
    ) -> Result<SpecialTreatment, Error> {
        self.special_treatment
            .get(self, org, id)
            .await?
            .map(SpecialTreatment::from_stored)
            .ok_or_else(|| not_found(id))
    }

    /// Replaces the whole list in one `UPDATE`: concurrent replaces serialize on the row, so
    /// the stored list is always exactly one of them.
    pub async fn replace_special_treatment(
        &self,
        org: &str,
        id: Uuid,
        treatment: SpecialTreatment,
    ) -> Result<(), Error> {
        let changed = self
            .special_treatment
            .replace(self, org, id, treatment.into_values())
            .await?;
        if changed == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }
}
