//! The change history (audit trail): who changed what of a customer, and when.
//!
//! Every successful write to a customer appends one [`Event`] in the write's own transaction
//! (`crate::repo::history`). What an event's `changes` may hold is decided here, per action,
//! by the functions that build them: the new non-secret values, never a secret, a hash or an
//! account number.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::identification::Transition;

/// What a write did. The contract's list, once: the spec's `action` enum is generated from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CustomerCreated,
    CustomerDeleted,
    SpecialTreatmentSet,
    CategoriesSet,
    AccountCreated,
    AccountUpdated,
    AccountDeleted,
    AccountIdentificationRevealed,
    CredentialCreated,
    CredentialSecretSet,
    CredentialUpdated,
    CredentialDeleted,
    CredentialLocked,
    IdentificationCreated,
    Identification(Transition),
}

impl Action {
    pub const ALL: [Action; 19] = [
        Action::CustomerCreated,
        Action::CustomerDeleted,
        Action::SpecialTreatmentSet,
        Action::CategoriesSet,
        Action::AccountCreated,
        Action::AccountUpdated,
        Action::AccountDeleted,
        Action::AccountIdentificationRevealed,
        Action::CredentialCreated,
        Action::CredentialSecretSet,
        Action::CredentialUpdated,
        Action::CredentialDeleted,
        Action::CredentialLocked,
        Action::IdentificationCreated,
        Action::Identification(Transition::Submit),
        Action::Identification(Transition::Cancel),
        Action::Identification(Transition::StartReview),
        Action::Identification(Transition::Approve),
        Action::Identification(Transition::Reject),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::CustomerCreated => "customer.created",
            Action::CustomerDeleted => "customer.deleted",
            Action::SpecialTreatmentSet => "special_treatment.set",
            Action::CategoriesSet => "categories.set",
            Action::AccountCreated => "account.created",
            Action::AccountUpdated => "account.updated",
            Action::AccountDeleted => "account.deleted",
            Action::AccountIdentificationRevealed => "account.identification_revealed",
            Action::CredentialCreated => "credential.created",
            Action::CredentialSecretSet => "credential.secret_set",
            Action::CredentialUpdated => "credential.updated",
            Action::CredentialDeleted => "credential.deleted",
            Action::CredentialLocked => "credential.locked",
            Action::IdentificationCreated => "identification.created",
            Action::Identification(Transition::Submit) => "identification.submitted",
            Action::Identification(Transition::Cancel) => "identification.cancelled",
            Action::Identification(Transition::StartReview) => "identification.review_started",
            Action::Identification(Transition::Approve) => "identification.approved",
            Action::Identification(Transition::Reject) => "identification.rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// "`a`, `b` or `c`", for messages.
    pub fn one_of() -> String {
        super::one_of_words(Self::ALL.iter().map(|a| a.as_str()))
    }

    /// The kind of resource the action is about.
    pub fn resource_type(self) -> ResourceType {
        match self {
            Action::CustomerCreated | Action::CustomerDeleted => ResourceType::Customer,
            Action::SpecialTreatmentSet => ResourceType::SpecialTreatment,
            Action::CategoriesSet => ResourceType::Categories,
            Action::AccountCreated
            | Action::AccountUpdated
            | Action::AccountDeleted
            | Action::AccountIdentificationRevealed => ResourceType::Account,
            Action::CredentialCreated
            | Action::CredentialSecretSet
            | Action::CredentialUpdated
            | Action::CredentialDeleted
            | Action::CredentialLocked => ResourceType::Credential,
            Action::IdentificationCreated | Action::Identification(_) => {
                ResourceType::IdentificationProcess
            }
        }
    }
}

/// What an event is about: the customer itself, or one of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    Customer,
    SpecialTreatment,
    Categories,
    Account,
    Credential,
    IdentificationProcess,
}

impl ResourceType {
    pub const ALL: [ResourceType; 6] = [
        ResourceType::Customer,
        ResourceType::SpecialTreatment,
        ResourceType::Categories,
        ResourceType::Account,
        ResourceType::Credential,
        ResourceType::IdentificationProcess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Customer => "customer",
            ResourceType::SpecialTreatment => "special_treatment",
            ResourceType::Categories => "categories",
            ResourceType::Account => "account",
            ResourceType::Credential => "credential",
            ResourceType::IdentificationProcess => "identification_process",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// "`a`, `b` or `c`", for messages.
    pub fn one_of() -> String {
        super::one_of_words(Self::ALL.iter().map(|t| t.as_str()))
    }
}

/// An event about to be appended: what changed, of which customer. Who and when are added by
/// the repository from the request being served.
#[derive(Debug, Clone)]
pub struct Change {
    pub customer_id: Uuid,
    pub action: Action,
    /// The resource's id (the customer's for its own, special-treatment and categories events).
    pub resource_id: String,
    /// The new non-secret values (a JSON object).
    pub changes: Map<String, Value>,
}

impl Change {
    /// An event about the customer or one of its parts that has no id of its own.
    pub fn of_customer(customer_id: Uuid, action: Action, changes: Value) -> Self {
        Self::of(customer_id, action, customer_id.to_string(), changes)
    }

    pub fn of(customer_id: Uuid, action: Action, resource_id: String, changes: Value) -> Self {
        let changes = match changes {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Change {
            customer_id,
            action,
            resource_id,
            changes,
        }
    }

    /// Nothing to show but the action itself (a delete, a reveal, a new secret).
    pub fn bare(customer_id: Uuid, action: Action, resource_id: String) -> Self {
        Self::of(customer_id, action, resource_id, json!({}))
    }
}

/// An event as stored and shown.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub request_id: String,
    pub action: Action,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub changes: Map<String, Value>,
}

/// A page of a customer's history, newest first.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub limit: u64,
    /// Return events older than this position (exclusive).
    pub before: Option<i64>,
    /// Return only events that occurred after this instant (exclusive).
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub items: Vec<Event>,
    /// The position of the last event when more may follow.
    pub next: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_name_and_the_contract_s_prefix() {
        let names: std::collections::HashSet<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            let prefix = action.as_str().split('.').next().unwrap();
            assert!(
                [
                    "customer",
                    "special_treatment",
                    "categories",
                    "account",
                    "credential",
                    "identification"
                ]
                .contains(&prefix),
                "{}",
                action.as_str()
            );
        }
        for transition in Transition::ALL {
            assert!(Action::ALL.contains(&Action::Identification(transition)));
        }
    }
}
