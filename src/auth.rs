//! Authentication (who is calling) and authorization (may they act here).
//!
//! [`BearerAuth`] is the spec's bearer security scheme: its checker verifies the JWT and
//! yields a [`Principal`], or answers 401. Handlers then call [`Principal::authorize`] with the
//! organization and the operation's [`Scope`], which answers 403. Because poem-openapi parses
//! every parameter before the handler runs, a malformed request (400) is reported before a
//! missing permission (403); a 403 always comes before any repository lookup, so a caller never
//! learns whether a customer exists in an organization it may not access.

use std::{sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// Declares the scopes, each once: its variant, its word in the token's `scope` claim, and
/// whether it is privileged (left out of the `token` command's default grant, the contract's
/// rule). Adding a scope is one line here.
macro_rules! scopes {
    ($($variant:ident => $word:literal, privileged: $privileged:literal;)+) => {
        /// An operation's required permission, carried in the token's space-separated `scope`
        /// claim.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Scope {
            $($variant,)+
        }

        impl Scope {
            /// Every scope, in declaration order.
            pub const ALL: &[Scope] = &[$(Scope::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Scope::$variant => $word,)+
                }
            }

            /// Privileged scopes (revealing account numbers, verifying secrets, deciding
            /// identifications, reading history) are granted only when asked for by name.
            pub fn is_privileged(self) -> bool {
                match self {
                    $(Scope::$variant => $privileged,)+
                }
            }
        }
    };
}

scopes! {
    CustomersRead => "customers:read", privileged: false;
    CustomersWrite => "customers:write", privileged: false;
    SpecialTreatmentRead => "special-treatment:read", privileged: false;
    SpecialTreatmentWrite => "special-treatment:write", privileged: false;
    CategoriesRead => "categories:read", privileged: false;
    CategoriesWrite => "categories:write", privileged: false;
    IdentificationRead => "identification:read", privileged: false;
    IdentificationWrite => "identification:write", privileged: false;
    IdentificationReview => "identification:review", privileged: true;
    AccountsRead => "accounts:read", privileged: false;
    AccountsWrite => "accounts:write", privileged: false;
    AccountsReveal => "accounts:reveal", privileged: true;
    CredentialsRead => "credentials:read", privileged: false;
    CredentialsWrite => "credentials:write", privileged: false;
    CredentialsVerify => "credentials:verify", privileged: true;
    HistoryRead => "history:read", privileged: true;
}

/// A [`Scopes`] set has one bit per scope, and room for the 16 of v1.1 and v1.2.
const _: () = assert!(Scope::ALL.len() <= ScopeBits::BITS as usize && ScopeBits::BITS >= 16);

impl Scope {
    /// What the `token` command grants by default: every scope but the privileged ones.
    pub fn default_grant() -> String {
        Scope::ALL
            .iter()
            .filter(|scope| !scope.is_privileged())
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The token's claims as this service reads them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Organizations the caller may act in; `"*"` is every organization.
    #[serde(default)]
    pub orgs: Vec<String>,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's `sub`: named in the logs of every write.
    pub subject: String,
    orgs: Vec<String>,
    scopes: Scopes,
}

/// The scopes a token grants, of those the service knows (others mean nothing here): a set
/// of bits, so a request does not build a set of strings.
#[derive(Debug, Clone, Copy)]
struct Scopes(ScopeBits);

/// Room for 32 scopes (the contract's v1.1 and v1.2 bring 16).
type ScopeBits = u32;

impl Scopes {
    fn parse(claim: &str) -> Self {
        let bits = claim
            .split_whitespace()
            .filter_map(|word| Scope::ALL.iter().find(|s| s.as_str() == word))
            .fold(0, |bits, scope| bits | Self::bit(*scope));
        Scopes(bits)
    }

    fn contains(self, scope: Scope) -> bool {
        self.0 & Self::bit(scope) != 0
    }

    fn bit(scope: Scope) -> ScopeBits {
        1 << scope as u32
    }
}

impl Principal {
    /// 403 unless the token grants `org` (or `"*"`) and `scope`.
    pub fn authorize(&self, org: &str, scope: Scope) -> Result<(), Error> {
        if !self
            .orgs
            .iter()
            .any(|granted| granted == "*" || granted == org)
        {
            return Err(Error::Forbidden(format!(
                "the token does not grant access to organization {org:?}"
            )));
        }
        if !self.scopes.contains(scope) {
            return Err(lacks_scope(scope.as_str()));
        }
        Ok(())
    }
}

/// The `403` of a valid token without the operation's scope (also the spec's examples of it).
pub fn lacks_scope(scope: &str) -> Error {
    Error::Forbidden(format!("the token lacks the scope {scope:?}"))
}

/// Bearer JWT (`Authorization: Bearer <token>`). The token's `orgs` claim lists the
/// organizations the caller may act in (`"*"` for all) and its `scope` claim the granted
/// scopes (`customers:read`, `customers:write`, `special-treatment:read`,
/// `special-treatment:write`); each operation's description names the scope it needs.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "authenticate")]
pub struct BearerAuth(pub Principal);

async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let verifier = req.data::<Arc<TokenVerifier>>().ok_or_else(|| {
        Error::Internal(anyhow::anyhow!("no token verifier in the route data")).into_poem()
    })?;
    let principal = verifier.verify(&bearer.token).map_err(Error::into_poem)?;
    crate::request::record_actor(&principal.subject);
    Ok(principal)
}

/// The keys the server accepts tokens from. The algorithm is the configuration's: a token
/// whose header names any other (`none`, HS256 against a public key, ...) is refused.
pub struct TokenVerifier {
    hmac: Option<(DecodingKey, Validation)>,
    public: Option<(DecodingKey, Validation)>,
}

/// Where the verifier's keys and expected claims come from.
#[derive(Debug, Clone, Default)]
pub struct KeySettings {
    pub hs256_secret: Option<Vec<u8>>,
    /// PEM public key: RSA (RS256) or EC P-256 (ES256).
    pub public_key_pem: Option<Vec<u8>>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl TokenVerifier {
    pub fn new(settings: &KeySettings) -> anyhow::Result<Self> {
        let validation_for = |alg: Algorithm| {
            let mut validation = Validation::new(alg);
            validation.leeway = LEEWAY_SECONDS;
            validation.validate_nbf = true;
            let mut required = vec!["exp", "sub"];
            if let Some(issuer) = &settings.issuer {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            match &settings.audience {
                Some(audience) => {
                    validation.set_audience(&[audience]);
                    required.push("aud");
                }
                None => validation.validate_aud = false,
            }
            validation.set_required_spec_claims(&required);
            validation
        };
        let hmac = settings.hs256_secret.as_deref().map(|secret| {
            (
                DecodingKey::from_secret(secret),
                validation_for(Algorithm::HS256),
            )
        });
        let public = match &settings.public_key_pem {
            None => None,
            Some(pem) => Some(if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
                (key, validation_for(Algorithm::RS256))
            } else {
                let key = DecodingKey::from_ec_pem(pem).map_err(|e| {
                    anyhow::anyhow!("JWT public key is neither an RSA nor an EC PEM key: {e}")
                })?;
                ensure_p256(pem)?;
                (key, validation_for(Algorithm::ES256))
            }),
        };
        anyhow::ensure!(
            hmac.is_some() || public.is_some(),
            "no JWT key configured: set JWT_SECRET or JWT_PUBLIC_KEY_FILE"
        );
        Ok(TokenVerifier { hmac, public })
    }

    /// 401 for anything but a well-signed, current token with `sub` and `exp`.
    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        let (key, validation) = match (&self.hmac, &self.public) {
            // One key: `decode` refuses any other algorithm itself, and reads the header once.
            (Some(only), None) | (None, Some(only)) => only,
            _ => self.key_for(token)?,
        };
        let claims = match jsonwebtoken::decode::<Claims>(token, key, validation) {
            Ok(data) => data.claims,
            Err(err) => {
                // The same reason whether one key or both are configured.
                self.key_for(token)?;
                return Err(invalid(format!("invalid token: {err}")));
            }
        };
        if claims.sub.trim().is_empty() {
            return Err(invalid("invalid token: empty `sub`".to_owned()));
        }
        Ok(Principal {
            subject: claims.sub,
            orgs: claims.orgs,
            scopes: Scopes::parse(&claims.scope),
        })
    }

    /// The key for the algorithm the token's header names, if the service accepts it.
    fn key_for(&self, token: &str) -> Result<&(DecodingKey, Validation), Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid(format!("malformed token: {e}")))?;
        [&self.hmac, &self.public]
            .into_iter()
            .flatten()
            .find(|(_, validation)| validation.algorithms.contains(&header.alg))
            .ok_or_else(|| invalid(format!("token algorithm {:?} is not accepted", header.alg)))
    }
}

fn invalid(message: String) -> Error {
    Error::Unauthorized {
        message,
        token_presented: true,
    }
}

/// ES256 is ECDSA on P-256; a key on another curve would refuse every token, so it is refused
/// at start-up instead.
fn ensure_p256(pem: &[u8]) -> anyhow::Result<()> {
    use p256::pkcs8::DecodePublicKey;
    let text = std::str::from_utf8(pem)?;
    p256::PublicKey::from_public_key_pem(text)
        .map(|_| ())
        .map_err(|_| anyhow::anyhow!("JWT public key is an EC key, but not on P-256 (ES256)"))
}

/// Signs an HS256 token, for `customers-api token` and tests.
pub fn mint_token(
    secret: &[u8],
    subject: &str,
    orgs: &[String],
    scopes: &str,
    ttl: Duration,
) -> anyhow::Result<String> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: subject.to_owned(),
        exp: now + ttl.as_secs(),
        nbf: None,
        iat: Some(now),
        orgs: orgs.to_vec(),
        scope: scopes.to_owned(),
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&KeySettings {
            hs256_secret: Some(b"0123456789abcdef0123456789abcdef".to_vec()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_minted_token_verifies_and_grants_what_it_names() {
        let token = mint_token(
            b"0123456789abcdef0123456789abcdef",
            "alice",
            &["acme".to_owned()],
            "customers:read",
            Duration::from_secs(60),
        )
        .unwrap();
        let principal = verifier().verify(&token).unwrap();
        assert_eq!(principal.subject, "alice");
        assert!(principal.authorize("acme", Scope::CustomersRead).is_ok());
        assert!(principal.authorize("acme", Scope::CustomersWrite).is_err());
        assert!(principal.authorize("other", Scope::CustomersRead).is_err());
    }

    #[test]
    fn scopes_are_the_known_words_of_the_claim() {
        let scopes =
            Scopes::parse("  customers:write unknown special-treatment:read\tcustomers:read2 ");
        assert!(scopes.contains(Scope::CustomersWrite));
        assert!(scopes.contains(Scope::SpecialTreatmentRead));
        assert!(!scopes.contains(Scope::CustomersRead));
        assert!(!scopes.contains(Scope::SpecialTreatmentWrite));
        assert!(!Scopes::parse("").contains(Scope::CustomersRead));
    }

    #[test]
    fn every_declared_scope_has_a_bit_of_its_own() {
        let all = Scopes::parse(
            &Scope::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        for (index, scope) in Scope::ALL.iter().enumerate() {
            assert!(all.contains(*scope), "{scope:?}");
            let alone = Scopes::parse(scope.as_str());
            assert_eq!(alone.0.count_ones(), 1, "{scope:?}");
            assert_eq!(alone.0, 1 << index, "{scope:?}");
        }
    }

    #[test]
    fn the_default_grant_is_every_scope_but_the_privileged() {
        let grant = Scope::default_grant();
        for scope in Scope::ALL {
            assert_eq!(
                grant.split(' ').any(|word| word == scope.as_str()),
                !scope.is_privileged(),
                "{scope:?}"
            );
        }
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let token = mint_token(
            b"another-secret-another-secret-xx",
            "a",
            &[],
            "",
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(matches!(
            verifier().verify(&token),
            Err(Error::Unauthorized { .. })
        ));
    }
}
