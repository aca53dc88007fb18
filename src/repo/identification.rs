//! Customer identification processes. Every query is scoped by organization and customer, and
//! every route first checks that the customer exists in the organization (finished processes
//! outlive their customer, unreachable). Which index serves which query is written in the
//! migration (`m20261202_000002_create_identification_processes`).
//!
//! Transitions are compare-and-set: one `UPDATE ... WHERE status IN (<the transition's
//! from-states>) AND <not expired>`, so of racing transitions exactly one applies; the others
//! change nothing and read the row to say why.

use chrono::{DateTime, Utc};
use entity::{
    customer,
    identification_process::{self, ActiveModel, Column, Entity},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
    sea_query::{Expr, ExprTrait, LockType},
};
use serde_json::json;
use uuid::Uuid;

use super::{Repository, calls::Reader, history};
use crate::{
    domain::{
        history::{Action, Change as HistoryChange},
        identification::{Change, Method, NewProcess, Process, ProcessPage, ProcessQuery, Status},
    },
    error::Error,
};

fn customer_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("customer {id} not found"))
}

fn process_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("identification process {id} not found"))
}

/// The `409` of a create while another process of the customer is unfinished.
fn unfinished(current: Status) -> Error {
    Error::Conflict {
        field: "status".to_owned(),
        message: format!(
            "of another identification process of this customer is {}: finish or cancel it first",
            current.as_str()
        ),
    }
}

fn process_of(row: identification_process::Model) -> Result<Process, Error> {
    let method = Method::parse(&row.method)
        .ok_or_else(|| anyhow::anyhow!("stored method {:?} is unknown", row.method))?;
    let status = Status::parse(&row.status)
        .ok_or_else(|| anyhow::anyhow!("stored status {:?} is unknown", row.status))?;
    Ok(Process {
        id: row.id,
        customer_id: row.customer_id,
        method,
        provider: row.provider,
        provider_reference: row.provider_reference,
        status,
        status_reason: row.status_reason,
        expires_at: row.expires_at,
        created_at: row.created_at,
        created_by: row.created_by,
        updated_at: row.updated_at,
        decided_at: row.decided_at,
        decided_by: row.decided_by,
    })
}

fn names(statuses: &[Status]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// Stored statuses that `expires_at` turns into `expired`.
const EXPIRING: [Status; 2] = [Status::Created, Status::Pending];

/// Rows whose effective status at `now` is unfinished (`created`, `pending`, `in_review`).
fn unfinished_at(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::Status.eq(Status::InReview.as_str()))
        .add(
            Condition::all()
                .add(Column::Status.is_in(names(&EXPIRING)))
                .add(Column::ExpiresAt.gt(now)),
        )
}

/// Rows whose effective status at `now` is `status`.
fn effective_is(status: Status, now: DateTime<Utc>) -> Condition {
    match status {
        Status::Created | Status::Pending => Condition::all()
            .add(Column::Status.eq(status.as_str()))
            .add(Column::ExpiresAt.gt(now)),
        Status::Expired => Condition::any()
            .add(Column::Status.eq(Status::Expired.as_str()))
            .add(
                Condition::all()
                    .add(Column::Status.is_in(names(&EXPIRING)))
                    .add(Column::ExpiresAt.lte(now)),
            ),
        other => Condition::all().add(Column::Status.eq(other.as_str())),
    }
}

fn customer_select(
    org: &str,
    customer_id: Uuid,
) -> sea_orm::Selector<sea_orm::SelectGetableTuple<Uuid>> {
    customer::Entity::find_by_id(customer_id)
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::OrgId.eq(org))
        .into_tuple::<Uuid>()
}

fn process_select(org: &str, customer_id: Uuid, id: Uuid) -> sea_orm::Select<Entity> {
    Entity::find_by_id(id)
        .filter(Column::OrgId.eq(org))
        .filter(Column::CustomerId.eq(customer_id))
}

/// What a create found, decided inside its transaction.
enum Created {
    Done(Box<identification_process::Model>),
    NoCustomer,
    Unfinished(String),
}

/// What a compare-and-set transition did.
pub enum Transitioned {
    /// Applied: the process as it is now.
    Applied(Process),
    /// Not applied; the process as it is (stored status), or `None` when the customer or the
    /// process does not exist in the organization.
    Refused(Option<Process>),
}

impl Repository {
    /// Starts a process for the customer, in one transaction: the customer's row is locked
    /// (`FOR NO KEY UPDATE` on PostgreSQL; SQLite's writers take turns anyway), so concurrent
    /// creates for one customer and its DELETE run one after the other; `404` without the
    /// customer, `409` while another process of it is unfinished at `now`.
    pub async fn create_identification_process(
        &self,
        org: &str,
        customer_id: Uuid,
        new: NewProcess,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Process, Error> {
        let row = ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org.to_owned()),
            customer_id: Set(customer_id),
            method: Set(new.method.as_str().to_owned()),
            provider: Set(new.provider),
            provider_reference: Set(new.provider_reference),
            status: Set(Status::Created.as_str().to_owned()),
            status_reason: Set(None),
            expires_at: Set(now + new.expires_in),
            created_at: Set(now),
            created_by: Set(actor.to_owned()),
            updated_at: Set(now),
            decided_at: Set(None),
            decided_by: Set(None),
        };
        let outcome = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let outcome = create_in(&txn, org, customer_id, row, now).await?;
                match outcome {
                    Created::Done(_) => txn.commit().await?,
                    _ => txn.rollback().await?,
                }
                Ok(outcome)
            })
            .await?;
        match outcome {
            Created::Done(row) => process_of(*row),
            Created::NoCustomer => Err(customer_not_found(customer_id)),
            Created::Unfinished(status) => Err(unfinished(
                Status::parse(&status).unwrap_or(Status::InReview),
            )),
        }
    }

    /// The process (stored status); `404` when the customer or the process is not in the
    /// organization.
    pub async fn get_identification_process(
        &self,
        org: &str,
        customer_id: Uuid,
        id: Uuid,
    ) -> Result<Process, Error> {
        let (customer, rows) = self
            .read(|r| async move {
                let customer = r.all(customer_select(org, customer_id)).await?;
                let rows = match customer.is_empty() {
                    true => vec![],
                    false => r.all(process_select(org, customer_id, id)).await?,
                };
                Ok((customer, rows))
            })
            .await?;
        if customer.is_empty() {
            return Err(customer_not_found(customer_id));
        }
        match rows.into_iter().next() {
            Some(row) => process_of(row),
            None => Err(process_not_found(id)),
        }
    }

    /// One page of the customer's processes, newest first (id descending), filtered by their
    /// effective status at `query.now`; `404` without the customer.
    pub async fn list_identification_processes(
        &self,
        org: &str,
        customer_id: Uuid,
        query: ProcessQuery,
    ) -> Result<ProcessPage, Error> {
        let mut select = Entity::find()
            .filter(Column::OrgId.eq(org))
            .filter(Column::CustomerId.eq(customer_id))
            .order_by_desc(Column::Id)
            .limit(query.limit + 1);
        if let Some(before) = query.before {
            select = select.filter(Column::Id.lt(before));
        }
        if let Some(status) = query.status {
            select = select.filter(effective_is(status, query.now));
        }
        let (customer, mut rows) = self
            .read(|r: Reader<'_>| async move {
                let customer = r.all(customer_select(org, customer_id)).await?;
                let rows = match customer.is_empty() {
                    true => vec![],
                    false => r.all(select).await?,
                };
                Ok((customer, rows))
            })
            .await?;
        if customer.is_empty() {
            return Err(customer_not_found(customer_id));
        }
        let more = rows.len() as u64 > query.limit;
        rows.truncate(query.limit as usize);
        let next = more.then(|| rows.last().map(|row| row.id)).flatten();
        Ok(ProcessPage {
            items: rows.into_iter().map(process_of).collect::<Result<_, _>>()?,
            next,
        })
    }

    /// Applies `change` as a compare-and-set: the row changes only if its status is one of the
    /// transition's from-states and it has not expired at `change.now` (and, for a decision,
    /// if the actor is not its creator). Otherwise nothing changes, and the row is read to
    /// say why.
    pub async fn transition_identification_process(
        &self,
        org: &str,
        customer_id: Uuid,
        id: Uuid,
        change: &Change,
    ) -> Result<Transitioned, Error> {
        let froms = names(change.transition.from_states());
        let now = change.now;
        let mut update = Entity::update_many()
            .col_expr(Column::Status, Expr::value(change.to.as_str()))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(Column::OrgId.eq(org))
            .filter(Column::CustomerId.eq(customer_id))
            .filter(Column::Status.is_in(froms))
            .filter(
                Condition::any()
                    .add(Column::Status.eq(Status::InReview.as_str()))
                    .add(Column::ExpiresAt.gt(now)),
            );
        if change.transition.is_decision() {
            update = update
                .col_expr(Column::DecidedAt, Expr::value(Some(now)))
                .col_expr(Column::DecidedBy, Expr::value(Some(change.actor.clone())))
                .col_expr(Column::StatusReason, Expr::value(change.reason.clone()))
                .filter(Column::CreatedBy.ne(change.actor.as_str()));
        }
        let mut changes = serde_json::Map::new();
        changes.insert("status".to_owned(), json!(change.to.as_str()));
        if change.transition.is_decision() {
            changes.insert("status_reason".to_owned(), json!(change.reason));
        }
        let event = HistoryChange::of(
            customer_id,
            Action::Identification(change.transition),
            id.to_string(),
            changes.into(),
        );
        let (updated, found) = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let updated = update.exec_with_returning(&txn).await?;
                if !updated.is_empty() {
                    history::append(&txn, org, event).await?;
                    txn.commit().await?;
                    return Ok((updated, None));
                }
                txn.rollback().await?;
                // Not applied: why? (Another writer may have changed it since: the answer
                // names the status read now.)
                let customer = customer_select(org, customer_id).all(w.db()).await?;
                let rows = match customer.is_empty() {
                    true => vec![],
                    false => process_select(org, customer_id, id).all(w.db()).await?,
                };
                Ok((updated, Some(rows)))
            })
            .await?;
        match (updated.into_iter().next(), found) {
            (Some(row), _) => Ok(Transitioned::Applied(process_of(row)?)),
            (None, Some(rows)) => match rows.into_iter().next() {
                Some(row) => Ok(Transitioned::Refused(Some(process_of(row)?))),
                None => Ok(Transitioned::Refused(None)),
            },
            (None, None) => Ok(Transitioned::Refused(None)),
        }
    }

    /// Deletes the finished processes of customers that no longer exist, finished before
    /// `finished_before` (decided, cancelled or expired then); how many.
    pub async fn purge_identification_processes(
        &self,
        finished_before: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let final_stored = names(&[
            Status::Approved,
            Status::Rejected,
            Status::Cancelled,
            Status::Expired,
        ]);
        let customers = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(
                Expr::col((customer::Entity, customer::Column::Id))
                    .equals((Entity, Column::CustomerId)),
            )
            .as_query()
            .to_owned();
        let result = self
            .write(|w| {
                Entity::delete_many()
                    .filter(Expr::exists(customers).not())
                    .filter(
                        Condition::any()
                            .add(
                                Condition::all()
                                    .add(Column::Status.is_in(final_stored))
                                    .add(Column::UpdatedAt.lt(finished_before)),
                            )
                            .add(
                                Condition::all()
                                    .add(Column::Status.is_in(names(&EXPIRING)))
                                    .add(Column::ExpiresAt.lt(finished_before)),
                            ),
                    )
                    .exec(w.db())
            })
            .await?;
        Ok(result.rows_affected)
    }
}

async fn create_in(
    txn: &DatabaseTransaction,
    org: &str,
    customer_id: Uuid,
    row: ActiveModel,
    now: DateTime<Utc>,
) -> Result<Created, DbErr> {
    let customer = customer::Entity::find_by_id(customer_id)
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::OrgId.eq(org))
        .lock(LockType::NoKeyUpdate)
        .into_tuple::<Uuid>()
        .all(txn)
        .await?;
    if customer.is_empty() {
        return Ok(Created::NoCustomer);
    }
    if let Some(status) = unfinished_status(txn, org, customer_id, now).await? {
        return Ok(Created::Unfinished(status));
    }
    let inserted = Entity::insert(row).exec_with_returning(txn).await?;
    let event = HistoryChange::of(
        customer_id,
        Action::IdentificationCreated,
        inserted.id.to_string(),
        json!({
            "method": inserted.method,
            "provider": inserted.provider,
            "status": inserted.status,
            "expires_at": inserted.expires_at,
        }),
    );
    history::append(txn, org, event).await?;
    Ok(Created::Done(Box::new(inserted)))
}

/// The effective status of one of the customer's unfinished processes at `now`, if any.
pub(super) async fn unfinished_status(
    db: &impl ConnectionTrait,
    org: &str,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbErr> {
    let statuses = Entity::find()
        .select_only()
        .column(Column::Status)
        .filter(Column::OrgId.eq(org))
        .filter(Column::CustomerId.eq(customer_id))
        .filter(unfinished_at(now))
        .limit(1)
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(statuses.into_iter().next())
}

/// The `409` of a customer DELETE while one of its processes is unfinished.
pub(super) fn customer_has_unfinished(status: &str) -> Error {
    Error::Conflict {
        field: "status".to_owned(),
        message: format!(
            "of one of the customer's identification processes is {status}: it must be \
             finished (approved, rejected, expired or cancelled) before the customer is deleted"
        ),
    }
}
