//! Customer rows and their special treatment. Every query is scoped by organization, so a
//! customer of another organization is simply not found.

use chrono::{DateTime, SubsecRound, Utc};
use entity::customer::{self, ActiveModel, Column, Entity};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{ConflictRule, Repository};
use crate::{
    domain::{
        customer::{Customer, CustomerPage, ListQuery, NewCustomer},
        special_treatment::SpecialTreatment,
    },
    error::Error,
};

/// The unique index on `(org_id, external_id)`.
const EXTERNAL_ID_TAKEN: ConflictRule = ConflictRule {
    field: "external_id",
    message: "is already registered in this organization",
};

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
            .write_checked(EXTERNAL_ID_TAKEN, |db| {
                Entity::insert(row).exec_with_returning(db.db())
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

    /// Deletes the customer and, being on its row, its special treatment; its external accounts
    /// go in the same statement (`ON DELETE CASCADE`).
    pub async fn delete_customer(&self, org: &str, id: Uuid) -> Result<(), Error> {
        let result = self
            .write(|db| {
                Entity::delete_many()
                    .filter(Column::Id.eq(id))
                    .filter(Column::OrgId.eq(org))
                    .exec(db.db())
            })
            .await?;
        if result.rows_affected == 0 {
            return Err(not_found(id));
        }
        Ok(())
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
