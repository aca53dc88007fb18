//! External account rows. Every query is scoped by organization and customer, so an account
//! of another customer or organization is simply not found. The number (`identification`)
//! leaves this module only through [`Repository::reveal_account_identification`].

use chrono::{DateTime, SubsecRound, Utc};
use entity::{
    customer,
    external_account::{self, ActiveModel, Column, Entity},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::{ConflictRule, Repository, history};
use crate::{
    domain::{
        account::{
            Account, AccountPage, AccountPatch, HolderType, Identification, Kind, ListQuery,
            NewAccount, Revealed, Scheme, Status,
        },
        history::{Action, Change},
    },
    error::Error,
};

/// The unique index on `(org_id, external_id)`.
const EXTERNAL_ID_TAKEN: ConflictRule = ConflictRule {
    field: "external_id",
    message: "is already registered in this organization",
};

fn customer_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("customer {id} not found"))
}

fn account_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("account {id} not found for this customer"))
}

/// A stored word that is not one of its set: the database was written by something else.
fn corrupt(column: &str) -> sea_orm::DbErr {
    sea_orm::DbErr::Type(format!("external_accounts.{column} holds an unknown value"))
}

impl TryFrom<external_account::Model> for Account {
    type Error = sea_orm::DbErr;

    /// Everything but the number.
    fn try_from(row: external_account::Model) -> Result<Self, Self::Error> {
        Ok(Account {
            id: row.id,
            customer_id: row.customer_id,
            external_id: row.external_id,
            scheme: Scheme::parse(&row.scheme).ok_or_else(|| corrupt("scheme"))?,
            identification_masked: row.identification_masked,
            currency: row.currency,
            kind: Kind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
            holder_type: HolderType::parse(&row.holder_type)
                .ok_or_else(|| corrupt("holder_type"))?,
            nickname: row.nickname,
            status: Status::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn accounts(rows: Vec<external_account::Model>) -> Result<Vec<Account>, Error> {
    rows.into_iter()
        .map(Account::try_from)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Internal(e.into()))
}

/// One account of one customer of one organization (a primary-key lookup).
fn one_account(org: &str, customer_id: Uuid, id: Uuid) -> sea_orm::Select<Entity> {
    Entity::find_by_id(id)
        .filter(Column::OrgId.eq(org))
        .filter(Column::CustomerId.eq(customer_id))
}

/// The customer's id if it exists in the organization (a primary-key lookup).
fn customer_in_org(org: &str, customer_id: Uuid) -> sea_orm::Select<customer::Entity> {
    customer::Entity::find_by_id(customer_id)
        .filter(customer::Column::OrgId.eq(org))
        .select_only()
        .column(customer::Column::Id)
}

/// What a patch found.
enum Patched {
    NoAccount,
    Closed,
    Done(Box<external_account::Model>),
}

impl Repository {
    /// Registers an account of the customer: `NotFound` when the customer is not in the
    /// organization, `Conflict` when the organization already has the `external_id`.
    pub async fn create_account(
        &self,
        org: &str,
        customer_id: Uuid,
        new: NewAccount,
    ) -> Result<Account, Error> {
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(6);
        let row = ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org.to_owned()),
            customer_id: Set(customer_id),
            external_id: Set(new.external_id),
            scheme: Set(new.scheme.as_str().to_owned()),
            identification_masked: Set(new.identification.masked()),
            identification: Set(new.identification.into_exposed()),
            currency: Set(new.currency),
            kind: Set(new.kind.as_str().to_owned()),
            holder_type: Set(new.holder_type.as_str().to_owned()),
            nickname: Set(new.nickname),
            status: Set(Status::Active.as_str().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let org = org.to_owned();
        let inserted = self
            .write_checked(EXTERNAL_ID_TAKEN, |w| async move {
                let txn = w.db().begin().await?;
                // FOR SHARE on PostgreSQL: a concurrent DELETE of the customer waits for this
                // commit, so the foreign key cannot fail under us (SQLite's writes are
                // serialized anyway).
                let customer = customer_in_org(&org, customer_id)
                    .lock_shared()
                    .into_tuple::<Uuid>()
                    .all(&txn)
                    .await?;
                if customer.is_empty() {
                    return Ok(None);
                }
                let inserted = Entity::insert(row).exec_with_returning(&txn).await?;
                history::append(&txn, &org, created_change(&inserted)).await?;
                txn.commit().await?;
                Ok(Some(inserted))
            })
            .await?
            .ok_or_else(|| customer_not_found(customer_id))?;
        Account::try_from(inserted).map_err(|e| Error::Internal(e.into()))
    }

    pub async fn get_account(
        &self,
        org: &str,
        customer_id: Uuid,
        id: Uuid,
    ) -> Result<Account, Error> {
        let rows = self
            .read(|r| r.all(one_account(org, customer_id, id)))
            .await?;
        accounts(rows)?.pop().ok_or_else(|| account_not_found(id))
    }

    /// One page of the customer's accounts in id order (UUIDv7, so registration order): a
    /// range scan of `(customer_id, id)`. `NotFound` when the customer is not in the
    /// organization.
    pub async fn list_accounts(
        &self,
        org: &str,
        customer_id: Uuid,
        query: ListQuery,
    ) -> Result<AccountPage, Error> {
        let mut select = Entity::find()
            .filter(Column::CustomerId.eq(customer_id))
            .filter(Column::OrgId.eq(org))
            .order_by_asc(Column::Id)
            .limit(query.limit + 1);
        if let Some(after) = query.after {
            select = select.filter(Column::Id.gt(after));
        }
        let customer = customer_in_org(org, customer_id).into_tuple::<Uuid>();
        let rows = self
            .read(|r| async move {
                if r.all(customer).await?.is_empty() {
                    return Ok(None);
                }
                r.all(select).await.map(Some)
            })
            .await?
            .ok_or_else(|| customer_not_found(customer_id))?;
        Ok(page(accounts(rows)?, query.limit))
    }

    /// The organization's accounts with exactly this `external_id` (at most one: it is
    /// unique), one probe of `(org_id, external_id)`.
    pub async fn find_accounts_by_external_id(
        &self,
        org: &str,
        external_id: &str,
        query: ListQuery,
    ) -> Result<AccountPage, Error> {
        let mut select = Entity::find()
            .filter(Column::OrgId.eq(org))
            .filter(Column::ExternalId.eq(external_id))
            .order_by_asc(Column::Id)
            .limit(query.limit + 1);
        if let Some(after) = query.after {
            select = select.filter(Column::Id.gt(after));
        }
        let rows = self.read(|r| r.all(select)).await?;
        Ok(page(accounts(rows)?, query.limit))
    }

    /// Applies a merge patch. `closed` is final: a patch that would change the status of a
    /// closed account is `Conflict` on `status` (one that keeps it closed is fine). The row is
    /// locked (PostgreSQL) or the write turn held (SQLite) from the read to the commit, so two
    /// patches cannot both pass the check on a stale status. Nothing changes, `updated_at`
    /// included, when the patch changes nothing.
    pub async fn patch_account(
        &self,
        org: &str,
        customer_id: Uuid,
        id: Uuid,
        patch: AccountPatch,
    ) -> Result<Account, Error> {
        let select = one_account(org, customer_id, id).lock_exclusive();
        let outcome = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let Some(row) = select.all(&txn).await?.pop() else {
                    return Ok(Patched::NoAccount);
                };
                let closed = row.status == Status::Closed.as_str();
                let status = patch.status.map(|s| s.as_str().to_owned());
                if closed && status.as_deref().is_some_and(|s| s != row.status) {
                    return Ok(Patched::Closed);
                }
                let new_status = status.filter(|s| *s != row.status);
                let new_nickname = patch.nickname.filter(|n| *n != row.nickname);
                if new_status.is_none() && new_nickname.is_none() {
                    return Ok(Patched::Done(Box::new(row)));
                }
                let mut changes = serde_json::Map::new();
                let mut change: ActiveModel = row.into();
                if let Some(status) = new_status {
                    changes.insert("status".to_owned(), json!(status));
                    change.status = Set(status);
                }
                if let Some(nickname) = new_nickname {
                    changes.insert("nickname".to_owned(), json!(nickname));
                    change.nickname = Set(nickname);
                }
                change.updated_at = Set(Utc::now().trunc_subsecs(6));
                let updated = change.update(&txn).await?;
                let event = Change::of(
                    customer_id,
                    Action::AccountUpdated,
                    id.to_string(),
                    changes.into(),
                );
                history::append(&txn, org, event).await?;
                txn.commit().await?;
                Ok(Patched::Done(Box::new(updated)))
            })
            .await?;
        match outcome {
            Patched::NoAccount => Err(account_not_found(id)),
            Patched::Closed => Err(Error::Conflict {
                field: "status".to_owned(),
                message: "is closed, which is final: delete the account instead".to_owned(),
            }),
            Patched::Done(row) => Account::try_from(*row).map_err(|e| Error::Internal(e.into())),
        }
    }

    pub async fn delete_account(
        &self,
        org: &str,
        customer_id: Uuid,
        id: Uuid,
    ) -> Result<(), Error> {
        let deleted = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let result = Entity::delete_many()
                    .filter(Column::Id.eq(id))
                    .filter(Column::OrgId.eq(org))
                    .filter(Column::CustomerId.eq(customer_id))
                    .exec(&txn)
                    .await?;
                if result.rows_affected == 0 {
                    return Ok(false);
                }
                let event = Change::bare(customer_id, Action::AccountDeleted, id.to_string());
                history::append(&txn, org, event).await?;
                txn.commit().await?;
                Ok(true)
            })
            .await?;
        if !deleted {
            return Err(account_not_found(id));
        }
        Ok(())
    }

    /// The account's scheme and number: the one read that returns the number, and so the one
    /// read that is a write too: it appends `account.identification_revealed` (without the
    /// number) in the transaction that reads it.
    pub async fn reveal_account_identification(
        &self,
        org: &str,
        customer_id: Uuid,
        id: Uuid,
    ) -> Result<Revealed, Error> {
        let select = one_account(org, customer_id, id)
            .select_only()
            .columns([Column::Scheme, Column::Identification])
            .into_tuple::<(String, String)>();
        let (scheme, number) = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let Some(found) = select.all(&txn).await?.pop() else {
                    return Ok(None);
                };
                let event = Change::bare(
                    customer_id,
                    Action::AccountIdentificationRevealed,
                    id.to_string(),
                );
                history::append(&txn, org, event).await?;
                txn.commit().await?;
                Ok(Some(found))
            })
            .await?
            .ok_or_else(|| account_not_found(id))?;
        let scheme =
            Scheme::parse(&scheme).ok_or_else(|| Error::Internal(corrupt("scheme").into()))?;
        Ok(Revealed {
            scheme,
            identification: Identification::stored(number),
        })
    }
}

/// `account.created`'s changes: the new account's fields but its number (not even masked).
fn created_change(row: &external_account::Model) -> Change {
    Change::of(
        row.customer_id,
        Action::AccountCreated,
        row.id.to_string(),
        json!({
            "external_id": row.external_id,
            "scheme": row.scheme,
            "currency": row.currency,
            "kind": row.kind,
            "holder_type": row.holder_type,
            "nickname": row.nickname,
            "status": row.status,
        }),
    )
}

/// `rows` (fetched with `limit + 1`) as a page: the extra row says more follow.
fn page(mut items: Vec<Account>, limit: u64) -> AccountPage {
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let next = more.then(|| items.last().map(|a| a.id)).flatten();
    AccountPage { items, next }
}
