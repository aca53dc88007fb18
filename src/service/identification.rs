//! Customer identification processes: the rules that are not CRUD. The state machine
//! ([`crate::domain::identification::apply`]) decides what a transition may do, the clock says
//! when "now" is (expiry), four eyes says who may decide, and the repository applies the
//! transition as a compare-and-set. Knows nothing about HTTP.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use crate::{
    domain::identification::{
        Change, NewProcess, Process, ProcessPage, ProcessQuery, Refused, Transition, apply,
    },
    error::Error,
    repo::{Repository, identification::Transitioned},
};

/// Where "now" comes from: the system clock in production, a fixed or stepped one in tests.
/// Both stores keep microseconds, so "now" is truncated to them: answers equal later reads.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// The identification processes' rules, over the repository and a clock.
#[derive(Clone)]
pub struct Identification {
    repo: Repository,
    clock: Arc<dyn Clock>,
}

/// The `403` of a decision by the process's creator.
pub fn four_eyes(transition: Transition) -> Error {
    Error::Forbidden(format!(
        "four eyes: the principal that created an identification process may not {} it",
        transition.verb()
    ))
}

impl Identification {
    pub fn new(repo: Repository) -> Self {
        Identification::with_clock(repo, Arc::new(SystemClock))
    }

    pub fn with_clock(repo: Repository, clock: Arc<dyn Clock>) -> Self {
        Identification { repo, clock }
    }

    /// Starts a process, created by `actor`; `409` while another one of the customer is
    /// unfinished.
    pub async fn create(
        &self,
        org: &str,
        customer_id: Uuid,
        new: NewProcess,
        actor: &str,
    ) -> Result<Process, Error> {
        let now = self.clock.now();
        self.repo
            .create_identification_process(org, customer_id, new, actor, now)
            .await
    }

    /// The process as it reads now (expiry applied).
    pub async fn get(&self, org: &str, customer_id: Uuid, id: Uuid) -> Result<Process, Error> {
        let process = self
            .repo
            .get_identification_process(org, customer_id, id)
            .await?;
        Ok(process.at(self.clock.now()))
    }

    /// One page, newest first, filtered by the status as it reads now.
    pub async fn list(
        &self,
        org: &str,
        customer_id: Uuid,
        limit: u64,
        before: Option<Uuid>,
        status: Option<crate::domain::identification::Status>,
    ) -> Result<ProcessPage, Error> {
        let now = self.clock.now();
        let query = ProcessQuery {
            limit,
            before,
            status,
            now,
        };
        let mut page = self
            .repo
            .list_identification_processes(org, customer_id, query)
            .await?;
        page.items = page.items.into_iter().map(|p| p.at(now)).collect();
        Ok(page)
    }

    /// Applies `transition` by `actor`: `404` when the customer or the process is not there;
    /// for a decision, `403` when `actor` created the process (decided before the state);
    /// `409` (`status`) when the state machine refuses it from the status read now.
    pub async fn transition(
        &self,
        org: &str,
        customer_id: Uuid,
        id: Uuid,
        transition: Transition,
        actor: &str,
        reason: Option<String>,
    ) -> Result<Process, Error> {
        let now = self.clock.now();
        let (_, to) = transition.rule();
        let change = Change {
            transition,
            to,
            actor: actor.to_owned(),
            now,
            reason,
        };
        let outcome = self
            .repo
            .transition_identification_process(org, customer_id, id, &change)
            .await?;
        match outcome {
            Transitioned::Applied(process) => Ok(process.at(now)),
            Transitioned::Refused(None) => Err(Error::NotFound(format!(
                "identification process {id} not found"
            ))),
            Transitioned::Refused(Some(process)) => {
                if transition.is_decision() && process.created_by == actor {
                    return Err(four_eyes(transition));
                }
                let current = process.at(now).status;
                // The row did not change although the table allows it from `current`: it
                // changed meanwhile, and reads as `current` (e.g. expiring between the two
                // statements). Say so with the state it reads in now.
                Err(apply(current, transition)
                    .err()
                    .unwrap_or(Refused {
                        current,
                        transition,
                    })
                    .error())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_keeps_microseconds() {
        let now = SystemClock.now();
        assert_eq!(now, now.trunc_subsecs(6));
    }
}
