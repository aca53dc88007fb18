//! Customer rows and their special treatment. Every query is scoped by organization, so a
//! customer of another organization is simply not found.

use std::sync::OnceLock;

use chrono::{DateTime, SubsecRound, Utc};
use entity::customer::{self, ActiveModel, Column, Entity};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, SqlErr, Statement, sea_query::Expr,
};
use uuid::Uuid;

use super::Repository;
use crate::{
    domain::{
        customer::{Customer, CustomerPage, ListQuery, NewCustomer},
        special_treatment::SpecialTreatment,
    },
    error::Error,
};

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("customer {id} not found"))
}

/// The statement `build` writes for `backend`, written once per backend: the hot paths only
/// bind it. Building it at every call (sea-query's expression trees, quoting, the SQL text) was
/// ~9% of a GET (BENCHMARKS.md).
fn once_per_backend(
    cache: &'static [OnceLock<String>; 2],
    backend: DbBackend,
    build: impl FnOnce(DbBackend) -> String,
) -> &'static str {
    let slot = match backend {
        DbBackend::Postgres => &cache[0],
        _ => &cache[1],
    };
    slot.get_or_init(|| build(backend))
}

/// `SELECT special_treatment FROM customers WHERE id = $1 AND org_id = $2`, as SeaORM writes it.
pub(super) fn select_treatment_sql(backend: DbBackend) -> &'static str {
    static SQL: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    once_per_backend(&SQL, backend, |backend| {
        Entity::find_by_id(Uuid::nil())
            .filter(Column::OrgId.eq(""))
            .select_only()
            .column(Column::SpecialTreatment)
            .build(backend)
            .sql
    })
}

/// `UPDATE customers SET special_treatment = $1 WHERE id = $2 AND org_id = $3`, as SeaORM
/// writes it.
pub(super) fn update_treatment_sql(backend: DbBackend) -> &'static str {
    static SQL: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    once_per_backend(&SQL, backend, |backend| {
        Entity::update_many()
            .col_expr(
                Column::SpecialTreatment,
                Expr::value(entity::SpecialTreatmentValues::default()),
            )
            .filter(Column::Id.eq(Uuid::nil()))
            .filter(Column::OrgId.eq(""))
            .build(backend)
            .sql
    })
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
            external_id: Set(new.external_id.clone()),
            display_name: Set(new.display_name),
            special_treatment: Set(entity::SpecialTreatmentValues::default()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let external_id = new.external_id;
        let inserted = self
            .write_or(
                |db| Entity::insert(row).exec_with_returning(db),
                |err| {
                    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))).then(|| {
                        Error::Conflict(format!(
                            "external_id {external_id:?} is already registered in organization \
                             {org:?}"
                        ))
                    })
                },
            )
            .await?;
        Ok(inserted.into())
    }

    pub async fn get_customer(&self, org: &str, id: Uuid) -> Result<Customer, Error> {
        // `.all()`, not `.one()`: see `get_special_treatment`.
        let rows = self
            .run(|db| Entity::find_by_id(id).filter(Column::OrgId.eq(org)).all(db))
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
        let mut rows = self.run(|db| select.all(db)).await?;
        let more = rows.len() as u64 > query.limit;
        rows.truncate(query.limit as usize);
        let next = more.then(|| rows.last().map(|row| row.id)).flatten();
        Ok(CustomerPage {
            items: rows.into_iter().map(Customer::from).collect(),
            next,
        })
    }

    /// Deletes the customer and, being on its row, its special treatment.
    pub async fn delete_customer(&self, org: &str, id: Uuid) -> Result<(), Error> {
        let result = self
            .write(|db| {
                Entity::delete_many()
                    .filter(Column::Id.eq(id))
                    .filter(Column::OrgId.eq(org))
                    .exec(db)
            })
            .await?;
        if result.rows_affected == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }

    pub async fn get_special_treatment(
        &self,
        org: &str,
        id: Uuid,
    ) -> Result<SpecialTreatment, Error> {
        // SeaORM's statement, written once per backend; a call only binds it. And no LIMIT on a
        // key lookup: SeaORM's `.one()` binds `LIMIT ?`, and SQLite (built with STAT4) expires a
        // statement whose LIMIT is a bound parameter at every new binding, parsing and planning
        // it again on every call (10-14% of a GET, see BENCHMARKS.md). When it can, the lookup
        // runs on this thread on SQLite (`sqlite_reads`), pipelined with others on PostgreSQL
        // (`postgres_reads`); else through the pool.
        let backend = self.backend();
        let sql = select_treatment_sql(backend);
        if let Some(answered) = self.read_special_treatment_on_this_thread(sql, id, org) {
            return answered
                .map(SpecialTreatment::from_stored)
                .ok_or_else(|| not_found(id));
        }
        if let Some(reads) = &self.postgres_reads
            && let Some(answered) = self
                .on_own_connections(true, reads.special_treatment(id, org))
                .await
        {
            return answered?
                .map(SpecialTreatment::from_stored)
                .ok_or_else(|| not_found(id));
        }
        let statement = Statement::from_sql_and_values(backend, sql, [id.into(), org.into()]);
        let stored = self
            .run(|db| async move {
                let row = db.query_one_raw(statement).await?;
                row.map(|row| row.try_get_by_index::<entity::SpecialTreatmentValues>(0))
                    .transpose()
            })
            .await?;
        stored
            .map(|values| SpecialTreatment::from_stored(values.0))
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
        let values = entity::SpecialTreatmentValues(treatment.into_values());
        if let Some(writes) = &self.sqlite_writes {
            // SQLite: committed in a group with the other PUTs waiting (`sqlite_writes`).
            let json = serde_json::to_string(&values)
                .map_err(|err| Error::Internal(anyhow::Error::new(err)))?;
            if self.write_in_group(writes, id, org, json).await? == 0 {
                return Err(not_found(id));
            }
            return Ok(());
        }
        let backend = self.backend();
        let sql = update_treatment_sql(backend);
        // PostgreSQL: committed in a group with the other PUTs waiting (`postgres_writes`).
        let grouped = match &self.postgres_writes {
            Some(writes) => {
                let replace = writes.replace_special_treatment(values.0.clone(), id, org);
                self.on_own_connections(false, replace).await
            }
            None => None,
        };
        let changed = match grouped {
            Some(changed) => changed?,
            None => {
                let statement = Statement::from_sql_and_values(
                    backend,
                    sql,
                    [values.into(), id.into(), org.into()],
                );
                self.write(|db| db.execute_raw(statement))
                    .await?
                    .rows_affected()
            }
        };
        if changed == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }
}
