//! Customer credentials' rules that are not CRUD: hashing and verifying secrets, and the
//! verification's counting and locking.
//!
//! # Hashing
//!
//! Argon2id (RustCrypto's `argon2`), version 19, OWASP's parameters: m = 19 MiB (19456 KiB),
//! t = 2 passes, p = 1 lane; a random 16-byte salt per hash from the system's RNG; stored as a
//! PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). Verification parses the stored
//! string and recomputes with *its* algorithm, version and parameters, comparing the outputs as
//! the library's `PasswordVerifier` does: `phc::Output`'s equality, which is constant-time.
//!
//! Each hash or verification needs 19 MiB and a core for tens of milliseconds. So they run on
//! tokio's blocking threads (`spawn_blocking`), never on the async workers that serve every
//! other request, and at most [`Hasher::concurrency`] at a time: one per core
//! (`available_parallelism`). More at once would not finish sooner (each is CPU-bound), only
//! take 19 MiB more each. A burst queues for a permit, for at most `DB_ACQUIRE_TIMEOUT_MS`;
//! a request that cannot get one in that time answers `503 service_unavailable` with
//! `Retry-After`.
//!
//! Argon2's 19 MiB of working memory is not allocated per hash: each permit has one buffer,
//! made at its first use and reused ever after ([`WorkingMemory`]). Memory for hashing is so
//! exactly 19 MiB × cores, held from the first hash on. (Allocating per hash, as the library's
//! `hash_password` does, left freed 19 MiB blocks cached in the allocator of whichever blocking
//! thread ran it: peak RSS under a verification storm went 3-16 MiB past that bound.)
//!
//! # Verification
//!
//! `valid` only for an `active` credential and the right secret. The outcome is written as a
//! compare-and-set on the state that was verified (same hash, still `active`), so concurrent
//! verifications never lose a count: each wrong one adds one in SQL, and the fifth consecutive
//! locks in the same statement (`crate::repo::credentials`).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{
        phc::{Output, ParamsString, PasswordHash, Salt},
        try_generate_salt,
    },
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
    memory: Arc<WorkingMemory>,
    concurrency: usize,
    wait: Duration,
}

fn params() -> Params {
    // The parameters are constants within Argon2's limits: `new` cannot fail for them.
    Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default()
}

/// Argon2's working memory, one buffer per hashing permit, kept between hashes. A job takes
/// a buffer when it starts and puts it back when it ends; as jobs hold permits, there are never
/// more buffers than permits.
#[derive(Default)]
struct WorkingMemory {
    free: Mutex<Vec<Vec<Block>>>,
}

impl WorkingMemory {
    /// Runs `work` with a buffer of at least `blocks` blocks.
    fn with<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        let kept = self.free.lock().map(|mut free| free.pop()).unwrap_or(None);
        let mut buffer = match kept {
            Some(buffer) if buffer.len() >= blocks => buffer,
            // First use of this permit, or a stored hash with more memory than ours.
            _ => vec![Block::default(); blocks],
        };
        let result = work(&mut buffer);
        if let Ok(mut free) = self.free.lock() {
            free.push(buffer);
        }
        result
    }
}

/// Why a stored hash could not be checked: never about the secret.
fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("{what}: {e}"))
}

/// Argon2id with our parameters into `memory`: the PHC string, with a fresh random salt.
fn hash_into(secret: &[u8], memory: &mut [Block]) -> Result<SecretHash, Error> {
    let params = params();
    let salt_bytes = try_generate_salt().map_err(|e| internal("no random salt", e))?;
    let salt = Salt::new(&salt_bytes).map_err(|e| internal("salt", e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(secret, &salt, &mut out, memory)
        // The library's errors are about parameters, salt or output: none shows input.
        .map_err(|e| internal("hashing failed", e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| internal("parameters", e))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| internal("output", e))?),
    };
    Ok(SecretHash(phc.to_string()))
}

/// What verifying against a stored PHC string needs: the Argon2 instance its algorithm,
/// version and parameters make, its salt and its output.
struct StoredHash {
    argon2: Argon2<'static>,
    blocks: usize,
    salt: Salt,
    expected: Output,
}

impl StoredHash {
    fn parse(hash: &SecretHash) -> Result<Self, Error> {
        let phc = PasswordHash::new(&hash.0).map_err(|e| internal("stored hash", e))?;
        let algorithm = Algorithm::try_from(phc.algorithm.as_str())
            .map_err(|e| internal("stored hash's algorithm", e))?;
        let version = match phc.version {
            Some(v) => Version::try_from(v).map_err(|e| internal("stored hash's version", e))?,
            None => Version::default(),
        };
        let params = Params::try_from(&phc).map_err(|e| internal("stored hash's parameters", e))?;
        let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
            return Err(internal("stored hash", "no salt or no output"));
        };
        Ok(StoredHash {
            blocks: params.block_count(),
            argon2: Argon2::new(algorithm, version, params),
            salt,
            expected,
        })
    }

    /// Whether `secret` gives the stored output (compared in constant time by `Output`'s `==`).
    fn matches(&self, secret: &[u8], memory: &mut [Block]) -> bool {
        let mut out = vec![0u8; self.expected.len()];
        self.argon2
            .hash_password_into_with_memory(secret, &self.salt, &mut out, memory)
            .is_ok()
            && Output::new(&out).is_ok_and(|computed| computed == self.expected)
    }
}

impl Hasher {
    /// At most `concurrency` at a time; a request waits at most `wait` for its turn.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        Hasher {
            permits: Arc::new(Semaphore::new(concurrency)),
            memory: Arc::default(),
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

    /// Runs `work` on a blocking thread with a permit's working memory of at least `blocks`
    /// blocks, once a permit is had (the permit goes with it, so a cancelled request does not
    /// free the permit before the work is done).
    async fn run<T: Send + 'static>(
        &self,
        blocks: usize,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::Overloaded(BUSY))?
            .map_err(|_| Error::Overloaded(BUSY))?;
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            memory.with(blocks, work)
        })
        .await
        // Neither the error nor a panic's payload is shown: nothing about the secret leaves.
        .map_err(|_| Error::Internal(anyhow::anyhow!("a hashing task failed")))
    }

    /// The secret's Argon2id PHC string, with a fresh random salt.
    pub async fn hash(&self, secret: Secret) -> Result<SecretHash, Error> {
        self.run(params().block_count(), move |memory| {
            hash_into(secret.expose().as_bytes(), memory)
        })
        .await?
    }

    /// Whether `secret` is the one `hash` was made from.
    pub async fn verify(&self, secret: Secret, hash: SecretHash) -> Result<bool, Error> {
        let stored = StoredHash::parse(&hash)?;
        self.run(stored.blocks, move |memory| {
            stored.matches(secret.expose().as_bytes(), memory)
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

    /// Hashes stored before the hasher reused its memory (the library's own `hash_password`)
    /// verify, and the library verifies ours: the PHC strings are the same format.
    #[tokio::test]
    async fn the_library_and_the_hasher_agree_on_phc_strings() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let library = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        let theirs = SecretHash(
            library
                .hash_password(b"correct horse battery")
                .unwrap()
                .to_string(),
        );
        let hasher = Hasher::new(1, Duration::from_secs(5));
        assert!(
            hasher
                .verify(secret("correct horse battery"), theirs.clone())
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(secret("correct horse batterY"), theirs)
                .await
                .unwrap()
        );
        let ours = hasher.hash(secret("correct horse battery")).await.unwrap();
        assert!(
            library
                .verify_password(b"correct horse battery", ours.0.as_str())
                .is_ok()
        );
        assert_eq!(
            hasher.memory.free.lock().unwrap().len(),
            1,
            "one permit, one buffer, reused"
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
