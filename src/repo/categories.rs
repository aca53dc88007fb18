//! Categories and memberships. Every query is scoped by organization; which index serves
//! which query is written in the migration (`m20261202_000001_create_categories`).

use chrono::{DateTime, SubsecRound, Utc};
use entity::{
    category::{self, ActiveModel, Column, Entity},
    customer, customer_category,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, TransactionTrait, TryInsertResult,
    sea_query::{Expr, LockType},
};
use serde_json::json;
use uuid::Uuid;

use super::{ConflictRule, Repository, history};
use crate::{
    domain::{
        category::{
            Category, CategoryDefinition, CategoryKeys, CategoryPage, KeyPageQuery,
            MemberPageQuery, Saved,
        },
        customer::{Customer, CustomerPage},
        history::{Action, Change},
    },
    error::Error,
};

/// The membership's foreign key to `categories` (`ON DELETE RESTRICT`).
pub(crate) const HAS_MEMBERS: ConflictRule = ConflictRule {
    field: "key",
    message: "names a category that customers still belong to: replace their categories first",
};

fn category_not_found(key: &str) -> Error {
    Error::NotFound(format!("category {key} not found"))
}

fn customer_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("customer {id} not found"))
}

impl From<category::Model> for Category {
    fn from(row: category::Model) -> Self {
        Category {
            key: row.key,
            name: row.name,
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// What a membership replace found, decided inside its transaction.
enum Replaced {
    Done,
    NoCustomer,
    /// The positions in the request of keys not in the catalogue.
    UnknownKeys(Vec<usize>),
}

impl Repository {
    /// Creates the category, or replaces its name and description (keeping `created_at`).
    pub async fn save_category(
        &self,
        org: &str,
        key: &str,
        definition: CategoryDefinition,
    ) -> Result<Saved, Error> {
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(6);
        self.write(|w| async move {
            // Insert if absent, else update. On PostgreSQL a concurrent delete can land between
            // the two; the next round then inserts. On SQLite writers take turns, so one round.
            loop {
                let row = ActiveModel {
                    org_id: Set(org.to_owned()),
                    key: Set(key.to_owned()),
                    name: Set(definition.name.clone()),
                    description: Set(definition.description.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                // `ON CONFLICT (org_id, key) DO NOTHING`: the primary key. Without `RETURNING`:
                // SeaORM reads an empty `RETURNING` as an error, not as "not inserted".
                let inserted = Entity::insert(row)
                    .on_conflict_do_nothing()
                    .exec_without_returning(w.db())
                    .await?;
                if let TryInsertResult::Inserted(1) = inserted {
                    return Ok(Saved::Created(Category {
                        key: key.to_owned(),
                        name: definition.name,
                        description: definition.description,
                        created_at: now,
                        updated_at: now,
                    }));
                }
                let updated = Entity::update_many()
                    .col_expr(Column::Name, Expr::value(definition.name.clone()))
                    .col_expr(
                        Column::Description,
                        Expr::value(definition.description.clone()),
                    )
                    .col_expr(Column::UpdatedAt, Expr::value(now))
                    .filter(Column::OrgId.eq(org))
                    .filter(Column::Key.eq(key))
                    .exec_with_returning(w.db())
                    .await?;
                if let Some(row) = updated.into_iter().next() {
                    return Ok(Saved::Replaced(row.into()));
                }
            }
        })
        .await
    }

    pub async fn get_category(&self, org: &str, key: &str) -> Result<Category, Error> {
        let rows = self
            .read(|r| r.all(Entity::find_by_id((org.to_owned(), key.to_owned()))))
            .await?;
        rows.into_iter()
            .next()
            .map(Category::from)
            .ok_or_else(|| category_not_found(key))
    }

    /// One page in key order (byte order), plus whether more follow.
    pub async fn list_categories(
        &self,
        org: &str,
        query: KeyPageQuery,
    ) -> Result<CategoryPage, Error> {
        let mut select = Entity::find()
            .filter(Column::OrgId.eq(org))
            .order_by_asc(Column::Key)
            .limit(query.limit + 1);
        if let Some(after) = query.after {
            select = select.filter(Column::Key.gt(after));
        }
        let mut rows = self.read(|r| r.all(select)).await?;
        let more = rows.len() as u64 > query.limit;
        rows.truncate(query.limit as usize);
        let next = more
            .then(|| rows.last().map(|row| row.key.clone()))
            .flatten();
        Ok(CategoryPage {
            items: rows.into_iter().map(Category::from).collect(),
            next,
        })
    }

    /// Deletes the category; `409` while customers belong to it (the foreign key says so).
    pub async fn delete_category(&self, org: &str, key: &str) -> Result<(), Error> {
        let result = self
            .write_checked(HAS_MEMBERS, |w| {
                Entity::delete_many()
                    .filter(Column::OrgId.eq(org))
                    .filter(Column::Key.eq(key))
                    .exec(w.db())
            })
            .await?;
        if result.rows_affected == 0 {
            return Err(category_not_found(key));
        }
        Ok(())
    }

    /// One page of the category's members in customer id order; `404` for an unknown
    /// category.
    pub async fn list_category_members(
        &self,
        org: &str,
        key: &str,
        query: MemberPageQuery,
    ) -> Result<CustomerPage, Error> {
        let mut members = customer::Entity::find()
            .join_rev(
                JoinType::InnerJoin,
                customer_category::Relation::Customer.def(),
            )
            .filter(customer_category::Column::OrgId.eq(org))
            .filter(customer_category::Column::CategoryKey.eq(key))
            .order_by_asc(customer_category::Column::CustomerId)
            .limit(query.limit + 1);
        if let Some(after) = query.after {
            members = members.filter(customer_category::Column::CustomerId.gt(after));
        }
        let category = Entity::find_by_id((org.to_owned(), key.to_owned()));
        let (category, mut rows) = self
            .read(|r| async move {
                let category = r.all(category).await?;
                // An unknown category has no members: skip the walk.
                let rows = match category.is_empty() {
                    true => vec![],
                    false => r.all(members).await?,
                };
                Ok((category, rows))
            })
            .await?;
        if category.is_empty() {
            return Err(category_not_found(key));
        }
        let more = rows.len() as u64 > query.limit;
        rows.truncate(query.limit as usize);
        let next = more.then(|| rows.last().map(|row| row.id)).flatten();
        Ok(CustomerPage {
            items: rows.into_iter().map(Customer::from).collect(),
            next,
        })
    }

    /// The customer's category keys in key order; `404` for an unknown customer. One query:
    /// the customer's row, left-joined to its memberships (primary-key walks on both).
    pub async fn customer_categories(&self, org: &str, id: Uuid) -> Result<Vec<String>, Error> {
        let select = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .column(customer_category::Column::CategoryKey)
            .join_rev(
                JoinType::LeftJoin,
                customer_category::Relation::Customer.def(),
            )
            .filter(customer::Column::Id.eq(id))
            .filter(customer::Column::OrgId.eq(org))
            .order_by_asc(customer_category::Column::CategoryKey)
            .into_tuple::<(Uuid, Option<String>)>();
        let rows = self.read(|r| r.all(select)).await?;
        if rows.is_empty() {
            return Err(customer_not_found(id));
        }
        Ok(rows.into_iter().filter_map(|(_, key)| key).collect())
    }

    /// Replaces the customer's categories with `keys`, in one transaction. On PostgreSQL the
    /// customer's row is locked first (`FOR NO KEY UPDATE`: it does not block the foreign-key
    /// checks of other tables' inserts), so concurrent replaces run one after the other and
    /// the last one's set is the stored set, and the customer cannot be deleted meanwhile; the
    /// categories read are `FOR KEY SHARE` locked, so none of them can be deleted before the
    /// commit. SQLite's writers take turns anyway.
    pub async fn replace_customer_categories(
        &self,
        org: &str,
        id: Uuid,
        keys: CategoryKeys,
    ) -> Result<(), Error> {
        let outcome = self
            .write(|w| async move {
                let txn = w.db().begin().await?;
                let outcome = replace_in(&txn, org, id, keys.keys()).await?;
                match outcome {
                    Replaced::Done => txn.commit().await?,
                    _ => txn.rollback().await?,
                }
                Ok(outcome)
            })
            .await?;
        match outcome {
            Replaced::Done => Ok(()),
            Replaced::NoCustomer => Err(customer_not_found(id)),
            Replaced::UnknownKeys(positions) => Err(CategoryKeys::unknown(&positions)),
        }
    }
}

async fn replace_in(
    txn: &DatabaseTransaction,
    org: &str,
    id: Uuid,
    keys: &[String],
) -> Result<Replaced, DbErr> {
    let customer = customer::Entity::find_by_id(id)
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::OrgId.eq(org))
        .lock(LockType::NoKeyUpdate)
        .into_tuple::<Uuid>()
        .all(txn)
        .await?;
    if customer.is_empty() {
        return Ok(Replaced::NoCustomer);
    }
    if !keys.is_empty() {
        let known: Vec<String> = Entity::find()
            .select_only()
            .column(Column::Key)
            .filter(Column::OrgId.eq(org))
            .filter(Column::Key.is_in(keys.iter().cloned()))
            .lock(LockType::KeyShare)
            .into_tuple::<String>()
            .all(txn)
            .await?;
        let unknown: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| !known.contains(key))
            .map(|(index, _)| index)
            .collect();
        if !unknown.is_empty() {
            return Ok(Replaced::UnknownKeys(unknown));
        }
    }
    customer_category::Entity::delete_many()
        .filter(customer_category::Column::CustomerId.eq(id))
        .exec(txn)
        .await?;
    if !keys.is_empty() {
        let rows = keys.iter().map(|key| customer_category::ActiveModel {
            customer_id: Set(id),
            category_key: Set(key.clone()),
            org_id: Set(org.to_owned()),
        });
        customer_category::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    let event = Change::of_customer(id, Action::CategoriesSet, json!({ "keys": keys }));
    history::append(txn, org, event).await?;
    Ok(Replaced::Done)
}
