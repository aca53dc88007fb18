//! Customer credentials' rules that are not CRUD: hashing and verifying secrets, and the
//! verification's counting and locking.
//!
//! # Hashing
//!
//! Argon2id (RustCrypto's `argon2`), version 19, OWASP's parameters: m = 19 MiB (19456 KiB),
//! t = 2 passes, p = 1 lane; a random 16-byte salt per hash from the system's RNG; stored as a
//! PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). Verification parses the stored
//! string and recomputes with *its* parameters, comparing in constant time inside the library
//! (`PasswordVerifier::verify_password`): never by hand.
//!
//! Each hash or verification needs 19 MiB and a core for tens of milliseconds. So they run on
//! tokio's blocking threads (`spawn_blocking`), never on the async workers that serve every
//! other request, and at most [`Hasher::concurrency`] at a time: one per core
//! (`available_parallelism`). More at once would not finish sooner (each is CPU-bound), only
//! take 19 MiB more each. A burst queues for a permit, for at most `DB_ACQUIRE_TIMEOUT_MS`;
//! a request that cannot get one in that time answers `503 service_unavailable` with
//! `Retry-After`. Memory for hashing is so bounded by 19 MiB × cores.
//!
//! # Verification
//!
//! `valid` only for an `active` credential and the right secret. The outcome is written as a
//! compare-and-set on the state that was verified (same hash, still `active`), so concurrent
//! verifications never lose a count: each wrong one adds one in SQL, and the fifth consecutive
//! locks in the same statement (`crate::repo::credentials`).

use std::{sync::Arc, time::Duration};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier},
};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::{
    domain::credential::{
        Credential, CredentialStatus, NewCredential, NewSecret, Secret, SecretHash, Verification,
        VerifyAttempt,
    },
    error::Error,
    repo::{Repository, credentials::Outcome},
};

/// Argon2id memory cost in KiB (19 MiB), passes and lanes: OWASP's recommendation.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// What a request waiting for a hashing permit too long is told.
const BUSY: &str = "too many secrets are being checked at once; retry after Retry-After seconds";

/// Runs hashes and verifications off the async workers, a bounded number at a time.
pub struct Hasher {
    permits: Arc<Semaphore>,
    concurrency: usize,
    wait: Duration,
}

fn argon2() -> Argon2<'static> {
    // The parameters are constants within Argon2's limits: `new` cannot fail for them.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Hasher {
    /// At most `concurrency` at a time; a request waits at most `wait` for its turn.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        Hasher {
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            wait,
        }
    }

    /// One per core.
    pub fn per_core(wait: Duration) -> Self {
        Self::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            wait,
        )
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Runs `work` on a blocking thread once a permit is had (the permit goes with it, so a
    /// cancelled request does not free the permit before the work is done).
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::Overloaded(BUSY))?
            .map_err(|_| Error::Overloaded(BUSY))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&argon2())
        })
        .await
        // Neither the error nor a panic's payload is shown: nothing about the secret leaves.
        .map_err(|_| Error::Internal(anyhow::anyhow!("a hashing task failed")))
    }

    /// The secret's Argon2id PHC string, with a fresh random salt.
    pub async fn hash(&self, secret: Secret) -> Result<SecretHash, Error> {
        self.run(move |argon2| {
            argon2
                .hash_password(secret.expose().as_bytes())
                .map(|hash| SecretHash(hash.to_string()))
                // The library's errors are about parameters, salt or output: none shows input.
                .map_err(|e| Error::Internal(anyhow::anyhow!("hashing failed: {e}")))
        })
        .await?
    }

    /// Whether `secret` is the one `hash` was made from (constant-time, in the library).
    pub async fn verify(&self, secret: Secret, hash: SecretHash) -> Result<bool, Error> {
        self.run(move |argon2| {
            argon2
                .verify_password(secret.expose().as_bytes(), hash.0.as_str())
                .is_ok()
        })
        .await
    }
}

/// Credentials' operations that hash: create, new secret, verify.
#[derive(Clone)]
pub struct Credentials {
    repo: Repository,
    hasher: Arc<Hasher>,
}

/// How often a verification is retried when the credential changed between its read and its
/// write (a new secret, a status change); then it answers from the state it last saw.
const VERIFY_ROUNDS: usize = 3;

impl Credentials {
    pub fn new(repo: Repository, hasher: Arc<Hasher>) -> Self {
        Credentials { repo, hasher }
    }

    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    pub async fn create(
        &self,
        org: &str,
        customer: Uuid,
        new: NewCredential,
    ) -> Result<Credential, Error> {
        let NewCredential {
            kind,
            secret,
            label,
            must_change,
        } = new;
        let hash = self.hasher.hash(secret).await?;
        self.repo
            .create_credential(org, customer, kind, label, must_change, hash)
            .await
    }

    /// A new secret, checked by the credential's type's rule: unlocks a locked credential,
    /// clears the failure count; a disabled one stays disabled.
    pub async fn set_secret(
        &self,
        org: &str,
        customer: Uuid,
        id: Uuid,
        new: NewSecret,
    ) -> Result<(), Error> {
        let current = self.repo.get_credential(org, customer, id).await?;
        new.check_for(current.kind)?;
        let hash = self.hasher.hash(new.secret).await?;
        self.repo
            .replace_secret(org, customer, id, hash, new.must_change)
            .await
    }

    pub async fn verify(
        &self,
        org: &str,
        customer: Uuid,
        id: Uuid,
        attempt: VerifyAttempt,
    ) -> Result<Verification, Error> {
        for _ in 0..VERIFY_ROUNDS {
            let stored = self.repo.stored_credential(org, customer, id).await?;
            if stored.credential.status != CredentialStatus::Active {
                return Ok(answer(false, &stored.credential));
            }
            let right = self
                .hasher
                .verify(attempt.secret.clone(), stored.hash.clone())
                .await?;
            // Right, with nothing to reset: nothing to write. (Answered as of the read: a
            // change landing after it is ordered after this verification.)
            if right && stored.credential.failed_attempts == 0 {
                return Ok(answer(true, &stored.credential));
            }
            let outcome = match right {
                true => self.repo.record_success(id, &stored.hash).await?,
                false => self.repo.record_failure(id, &stored.hash).await?,
            };
            if let Outcome::Recorded(now) = outcome {
                let valid = right && now.status == CredentialStatus::Active;
                return Ok(answer(valid, &now));
            }
            // Changed since it was read (a new secret or status, locked by concurrent
            // failures, deleted): verify again against what it is now.
        }
        let now = self.repo.get_credential(org, customer, id).await?;
        Ok(answer(false, &now))
    }
}

fn answer(valid: bool, credential: &Credential) -> Verification {
    Verification {
        valid,
        status: credential.status,
        must_change: credential.must_change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credential::NewSecret;

    fn secret(text: &str) -> Secret {
        NewSecret::parse(serde_json::json!({ "secret": text }))
            .unwrap()
            .secret
    }

    #[tokio::test]
    async fn hashes_are_salted_argon2id_phc_strings_that_the_library_verifies() {
        let hasher = Hasher::new(2, Duration::from_secs(5));
        let one = hasher.hash(secret("correct horse battery")).await.unwrap();
        let two = hasher.hash(secret("correct horse battery")).await.unwrap();
        assert!(
            one.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            one.0
        );
        assert_ne!(one, two, "each hash has its own salt");
        assert!(!one.0.contains("correct horse"));
        assert!(
            hasher
                .verify(secret("correct horse battery"), one.clone())
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(secret("correct horse batterY"), one)
                .await
                .unwrap()
        );
    }

    /// With every permit taken for longer than the wait, the next request is refused (503)
    /// rather than queued without end.
    #[tokio::test]
    async fn a_request_that_cannot_get_a_turn_in_time_is_refused() {
        let hasher = Hasher::new(1, Duration::from_millis(50));
        let held = hasher.permits.clone().acquire_owned().await.unwrap();
        let refused = hasher.hash(secret("0000")).await;
        assert!(matches!(refused, Err(Error::Overloaded(_))), "{refused:?}");
        drop(held);
        assert!(hasher.hash(secret("0000")).await.is_ok());
    }
}
