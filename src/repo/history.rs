//! The change history: appending a write's event inside the write's transaction, and reading a
//! customer's history. The table and its indexes: migration `m20261202_000005`.
//!
//! An event is appended by the same transaction as its change, on every path a write takes
//! (the pools here, the special-treatment fast paths in [`super::special_treatment`]), so a
//! change is never committed without its event or an event without its change, a crash
//! included. Who and when are taken from the request being served ([`Stamp::now`]).

use chrono::{DateTime, SubsecRound, Utc};
use entity::history_event::{self, ActiveModel, Column, Entity};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::Repository;
use crate::{
    domain::history::{Action, Change, Event, HistoryPage, HistoryQuery, ResourceType},
    error::Error,
};

/// Who made a change, when, and in which request: taken on the request's task, carried to
/// whichever connection or thread commits the change.
#[derive(Debug, Clone)]
pub(crate) struct Stamp {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub request_id: String,
}

impl Stamp {
    /// Now, for the request being served.
    pub(crate) fn now() -> Self {
        Stamp {
            id: Uuid::now_v7(),
            // Both stores keep microseconds: truncated so that what is read back is equal.
            occurred_at: Utc::now().trunc_subsecs(6),
            actor: crate::request::current_actor(),
            request_id: crate::request::current_request_id(),
        }
    }
}

/// The columns the special-treatment fast paths insert, in their parameters' order (every
/// column but `seq`, which the database assigns).
pub(crate) const EVENT_COLUMNS_SQL: &str = "\"id\", \"org_id\", \"customer_id\", \"occurred_at\", \
     \"actor\", \"request_id\", \"action\", \"resource_type\", \"resource_id\", \"changes\"";

/// The row for `change` of a customer of `org`, stamped now.
pub(crate) fn event_row(org: &str, change: Change) -> ActiveModel {
    event_row_stamped(org, change, Stamp::now())
}

pub(crate) fn event_row_stamped(org: &str, change: Change, stamp: Stamp) -> ActiveModel {
    ActiveModel {
        seq: NotSet,
        id: Set(stamp.id),
        org_id: Set(org.to_owned()),
        customer_id: Set(change.customer_id),
        occurred_at: Set(stamp.occurred_at),
        actor: Set(stamp.actor),
        request_id: Set(stamp.request_id),
        action: Set(change.action.as_str().to_owned()),
        resource_type: Set(change.action.resource_type().as_str().to_owned()),
        resource_id: Set(change.resource_id),
        changes: Set(serde_json::Value::Object(change.changes).to_string()),
    }
}

/// Appends `change`'s event on `db`: call it inside the change's transaction.
pub(crate) async fn append(
    db: &impl ConnectionTrait,
    org: &str,
    change: Change,
) -> Result<(), DbErr> {
    Entity::insert(event_row(org, change))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

impl TryFrom<history_event::Model> for Event {
    type Error = Error;

    fn try_from(row: history_event::Model) -> Result<Self, Error> {
        let corrupt =
            |what: &str| Error::Internal(anyhow::anyhow!("history event {}: {what}", row.id));
        let action = Action::parse(&row.action).ok_or_else(|| corrupt("unknown action"))?;
        let resource_type = ResourceType::parse(&row.resource_type)
            .ok_or_else(|| corrupt("unknown resource type"))?;
        let changes = match serde_json::from_str(&row.changes) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(corrupt("changes are not a JSON object")),
        };
        Ok(Event {
            id: row.id,
            occurred_at: row.occurred_at,
            actor: row.actor,
            request_id: row.request_id,
            action,
            resource_type,
            resource_id: row.resource_id,
            changes,
        })
    }
}

impl Repository {
    /// A page of the history of customer `id` of `org`, newest first. `404` only when the
    /// customer has neither a row nor an event: a deleted customer's history stays readable.
    pub async fn customer_history(
        &self,
        org: &str,
        id: Uuid,
        query: HistoryQuery,
    ) -> Result<HistoryPage, Error> {
        let mut select = Entity::find()
            .filter(Column::OrgId.eq(org))
            .filter(Column::CustomerId.eq(id))
            .order_by_desc(Column::Seq)
            .limit(query.limit + 1);
        if let Some(before) = query.before {
            select = select.filter(Column::Seq.lt(before));
        }
        if let Some(since) = query.since {
            select = select.filter(Column::OccurredAt.gt(since));
        }
        let mut rows = self.read(|r| r.all(select)).await?;
        if rows.is_empty() && !self.has_history_or_row(org, id).await? {
            return Err(Error::NotFound(format!("customer {id} not found")));
        }
        let more = rows.len() as u64 > query.limit;
        rows.truncate(query.limit as usize);
        let next = more.then(|| rows.last().map(|row| row.seq)).flatten();
        Ok(HistoryPage {
            items: rows
                .into_iter()
                .map(Event::try_from)
                .collect::<Result<_, _>>()?,
            next,
        })
    }

    /// Whether customer `id` of `org` exists or once did (it has events).
    async fn has_history_or_row(&self, org: &str, id: Uuid) -> Result<bool, Error> {
        use entity::customer;
        let events = Entity::find()
            .select_only()
            .column(Column::Seq)
            .filter(Column::OrgId.eq(org))
            .filter(Column::CustomerId.eq(id))
            .limit(1)
            .into_tuple::<i64>();
        if !self.read(|r| r.all(events)).await?.is_empty() {
            return Ok(true);
        }
        let row = customer::Entity::find_by_id(id)
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::OrgId.eq(org))
            .into_tuple::<Uuid>();
        Ok(!self.read(|r| r.all(row)).await?.is_empty())
    }
}
