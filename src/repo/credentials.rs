//! Customer credentials. Every query is scoped by organization and customer; which index
//! serves which query is written in the migration
//! (`m20261202_000004_create_customer_credentials`). The hash is written and read here only
//! to be handed to `crate::service::credentials`; no answer carries it.

use chrono::{DateTime, SubsecRound, Utc};
use entity::{
    customer,
    customer_credential::{self, ActiveModel, Column, Entity},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait, LockType},
};
use serde_json::json;
use uuid::Uuid;

use super::{ConflictRule, Repository, history};
use crate::{
    domain::{
        credential::{
            Credential, CredentialPatch, CredentialStatus, CredentialType, MAX_FAILED_ATTEMPTS,
            SecretHash, StoredCredential,
        },
        history::{Action, Change},
    },
    error::Error,
};

/// The unique index `(customer_id, type)`: one credential per type per customer.
pub(crate) const ONE_PER_TYPE: ConflictRule = ConflictRule {
    field: "type",
    message: "the customer already has a credential of this type: set a new secret on it, or \
              delete it first",
};

/// A status change on a locked credential: only a new secret unlocks it.
pub(crate) const LOCKED: ConflictRule = ConflictRule {
    field: "status",
    message: "cannot change while the credential is locked: set a new secret to unlock it",
};

fn customer_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("customer {id} not found"))
}

fn credential_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("credential {id} not found"))
}

/// What a verification's compare-and-set found.
pub enum Outcome {
    /// Written: the credential as it now is.
    Recorded(Credential),
    /// The credential is no longer the one verified (new secret, not active, deleted).
    Changed,
}

impl TryFrom<customer_credential::Model> for StoredCredential {
    type Error = Error;

    fn try_from(row: customer_credential::Model) -> Result<Self, Error> {
        let kind = CredentialType::parse(&row.kind);
        let status = CredentialStatus::parse(&row.status);
        let (Some(kind), Some(status)) = (kind, status) else {
            return Err(Error::Internal(anyhow::anyhow!(
                "credential {} has an unknown type or status",
                row.id
            )));
        };
        Ok(StoredCredential {
            credential: Credential {
                id: row.id,
                kind,
                label: row.label,
                status,
                must_change: row.must_change,
                failed_attempts: row.failed_attempts,
                created_at: row.created_at,
                updated_at: row.updated_at,
                last_changed_at: row.last_changed_at,
            },
            hash: SecretHash(row.secret_hash),
        })
    }
}

fn credential(row: customer_credential::Model) -> Result<Credential, Error> {
    StoredCredential::try_from(row).map(|stored| stored.credential)
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The rows of `id` under this organization and customer.
fn one(org: &str, customer: Uuid, id: Uuid) -> sea_orm::Select<Entity> {
    Entity::find_by_id(id)
        .filter(Column::OrgId.eq(org))
        .filter(Column::CustomerId.eq(customer))
}

impl Repository {
    /// Stores a new credential; `404` for an unknown customer, `409` when it has one of this
    /// type. On PostgreSQL the customer's row is `FOR KEY SHARE` locked until the insert
    /// commits, so it cannot be deleted in between (SQLite's writers take turns anyway).
    pub async fn create_credential(
        &self,
        org: &str,
        customer: Uuid,
        kind: CredentialType,
        label: Option<String>,
        must_change: bool,
        hash: SecretHash,
    ) -> Result<Credential, Error> {
        let at = now();
        let row = ActiveModel {
            id: Set(Uuid::now_v7()),
            customer_id: Set(customer),
            org_id: Set(org.to_owned()),
            kind: Set(kind.as_str().to_owned()),
            label: Set(label),
            secret_hash: Set(hash.0),
            status: Set(CredentialStatus::Active.as_str().to_owned()),
            must_change: Set(must_change),
            failed_attempts: Set(0),
            created_at: Set(at),
            updated_at: Set(at),
            last_changed_at: Set(at),
        };
        let inserted = self
            .write_checked(ONE_PER_TYPE, |w| async move {
                let txn = w.db().begin().await?;
                let found = customer::Entity::find_by_id(customer)
                    .select_only()
                    .column(customer::Column::Id)
                    .filter(customer::Column::OrgId.eq(org))
                    .lock(LockType::KeyShare)
                    .into_tuple::<Uuid>()
                    .all(&txn)
                    .await?;
                if found.is_empty() {
                    txn.rollback().await?;
                    return Ok::<_, DbErr>(None);
                }
                let inserted = row.insert(&txn).await?;
                let event = Change::of(
                    customer,
                    Action::CredentialCreated,
                    inserted.id.to_string(),
                    json!({
                        "type": inserted.kind,
                        "label": inserted.label,
                        "must_change": inserted.must_change,
                        "status": inserted.status,
                    }),
                );
                history::append(&txn, org, event).await?;
                txn.commit().await?;
                Ok(Some(inserted))
            })
            .await?;
        credential(inserted.ok_or_else(|| customer_not_found(customer))?)
    }

    /// The customer's credentials in id order (at most one per type); `404` for an unknown
    /// customer.
    pub async fn list_credentials(
        &self,
        org: &str,
        customer: Uuid,
    ) -> Result<Vec<Credential>, Error> {
        let owner = customer::Entity::find_by_id(customer)
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::OrgId.eq(org))
            .into_tuple::<Uuid>();
        let rows = Entity::find()
            .filter(Column::CustomerId.eq(customer))
            .filter(Column::OrgId.eq(org));
        let (owner, rows) = self
            .read(|r| async move {
                let owner = r.all(owner).await?;
                let rows = match owner.is_empty() {
                    true => vec![],
                    false => r.all(rows).await?,
                };
                Ok((owner, rows))
            })
            .await?;
        if owner.is_empty() {
            return Err(customer_not_found(customer));
        }
        let mut items = rows
            .into_iter()
            .map(credential)
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|c| c.id);
        Ok(items)
    }

    pub async fn get_credential(
        &self,
        org: &str,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Credential, Error> {
        self.stored_credential(org, customer, id)
            .await
            .map(|stored| stored.credential)
    }

    /// The credential with its hash, for verification.
    pub async fn stored_credential(
        &self,
        org: &str,
        customer: Uuid,
        id: Uuid,
    ) -> Result<StoredCredential, Error> {
        let rows = self.read(|r| r.all(one(org, customer, id))).await?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| credential_not_found(id))?;
        StoredCredential::try_from(row)
    }

    /// A new secret: clears the failure count, unlocks a locked credential (a disabled one
    /// stays disabled), sets `must_change` and `last_changed_at`.
    pub async fn replace_secret(
        &self,
        org: &str,
        customer: Uuid,
        id: Uuid,
        hash: SecretHash,
        must_change: bool,
    ) -> Result<(), Error> {
        let at = now();
        let unlocked = Expr::case(
            Expr::col(Column::Status).eq(CredentialStatus::Locked.as_str()),
            CredentialStatus::Active.as_str(),
        )
        .finally(Expr::col(Column::Status));
        let replaced = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let result = Entity::update_many()
                    .col_expr(Column::SecretHash, Expr::value(hash.0))
                    .col_expr(Column::MustChange, Expr::value(must_change))
                    .col_expr(Column::FailedAttempts, Expr::value(0))
                    .col_expr(Column::Status, unlocked.into())
                    .col_expr(Column::LastChangedAt, Expr::value(at))
                    .col_expr(Column::UpdatedAt, Expr::value(at))
                    .filter(Column::Id.eq(id))
                    .filter(Column::OrgId.eq(org))
                    .filter(Column::CustomerId.eq(customer))
                    .exec(&txn)
                    .await?;
                if result.rows_affected == 0 {
                    return Ok(false);
                }
                // The secret and its hash are never part of an event.
                let event = Change::of(
                    customer,
                    Action::CredentialSecretSet,
                    id.to_string(),
                    json!({ "must_change": must_change }),
                );
                history::append(&txn, org, event).await?;
                txn.commit().await?;
                Ok(true)
            })
            .await?;
        if !replaced {
            return Err(credential_not_found(id));
        }
        Ok(())
    }

    /// Applies a merge patch. A status on a locked credential is `409` (only a new secret
    /// unlocks), decided in the `UPDATE`'s condition so that a concurrent lock cannot slip
    /// between a check and the write.
    pub async fn patch_credential(
        &self,
        org: &str,
        customer: Uuid,
        id: Uuid,
        patch: CredentialPatch,
    ) -> Result<Credential, Error> {
        if patch == CredentialPatch::default() {
            return self.get_credential(org, customer, id).await;
        }
        let mut update = Entity::update_many()
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::Id.eq(id))
            .filter(Column::OrgId.eq(org))
            .filter(Column::CustomerId.eq(customer));
        let mut changes = serde_json::Map::new();
        if let Some(label) = patch.label {
            changes.insert("label".to_owned(), json!(label));
            update = update.col_expr(Column::Label, Expr::value(label));
        }
        if let Some(status) = patch.status {
            changes.insert("status".to_owned(), json!(status.status().as_str()));
            update = update
                .col_expr(Column::Status, Expr::value(status.status().as_str()))
                .filter(Column::Status.ne(CredentialStatus::Locked.as_str()));
        }
        let event = Change::of(
            customer,
            Action::CredentialUpdated,
            id.to_string(),
            changes.into(),
        );
        let rows = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let rows = update.exec_with_returning(&txn).await?;
                if !rows.is_empty() {
                    history::append(&txn, org, event).await?;
                }
                txn.commit().await?;
                Ok(rows)
            })
            .await?;
        if let Some(row) = rows.into_iter().next() {
            return credential(row);
        }
        // Nothing written: gone, or locked.
        let current = self.get_credential(org, customer, id).await?;
        match current.status {
            CredentialStatus::Locked => Err(LOCKED.error()),
            _ => Err(Error::Internal(anyhow::anyhow!(
                "credential {id} was neither patched nor locked"
            ))),
        }
    }

    pub async fn delete_credential(
        &self,
        org: &str,
        customer: Uuid,
        id: Uuid,
    ) -> Result<(), Error> {
        let deleted = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let result = Entity::delete_many()
                    .filter(Column::Id.eq(id))
                    .filter(Column::OrgId.eq(org))
                    .filter(Column::CustomerId.eq(customer))
                    .exec(&txn)
                    .await?;
                if result.rows_affected == 0 {
                    return Ok(false);
                }
                let event = Change::bare(customer, Action::CredentialDeleted, id.to_string());
                history::append(&txn, org, event).await?;
                txn.commit().await?;
                Ok(true)
            })
            .await?;
        if !deleted {
            return Err(credential_not_found(id));
        }
        Ok(())
    }

    /// A right secret for the credential still `active` with `hash`: the count goes back to 0.
    pub async fn record_success(&self, id: Uuid, hash: &SecretHash) -> Result<Outcome, Error> {
        let update = Entity::update_many()
            .col_expr(Column::FailedAttempts, Expr::value(0))
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(CredentialStatus::Active.as_str()))
            .filter(Column::SecretHash.eq(hash.0.as_str()));
        self.verified(update).await
    }

    /// A wrong secret for the credential still `active` with `hash`: one more failure, counted
    /// in SQL (`failed_attempts + 1`, so concurrent failures all count), and `locked` in the
    /// same statement when it is the fifth.
    pub async fn record_failure(&self, id: Uuid, hash: &SecretHash) -> Result<Outcome, Error> {
        let next = Expr::col(Column::FailedAttempts).add(1);
        let status = Expr::case(
            Expr::col(Column::FailedAttempts)
                .add(1)
                .gte(MAX_FAILED_ATTEMPTS),
            CredentialStatus::Locked.as_str(),
        )
        .finally(Expr::col(Column::Status));
        let update = Entity::update_many()
            .col_expr(Column::FailedAttempts, next)
            .col_expr(Column::Status, status.into())
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(CredentialStatus::Active.as_str()))
            .filter(Column::SecretHash.eq(hash.0.as_str()));
        self.verified(update).await
    }

    /// Runs a verification's count `update` (which applies only to an `active` credential);
    /// when it leaves the credential locked, this verification locked it: `credential.locked`
    /// is appended in the same transaction.
    async fn verified(&self, update: sea_orm::UpdateMany<Entity>) -> Result<Outcome, Error> {
        let rows = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let rows = update.exec_with_returning(&txn).await?;
                if let Some(row) = rows
                    .first()
                    .filter(|row| row.status == CredentialStatus::Locked.as_str())
                {
                    let event = Change::of(
                        row.customer_id,
                        Action::CredentialLocked,
                        row.id.to_string(),
                        json!({ "status": row.status, "failed_attempts": row.failed_attempts }),
                    );
                    history::append(&txn, &row.org_id, event).await?;
                }
                txn.commit().await?;
                Ok(rows)
            })
            .await?;
        match rows.into_iter().next() {
            Some(row) => Ok(Outcome::Recorded(credential(row)?)),
            None => Ok(Outcome::Changed),
        }
    }
}
