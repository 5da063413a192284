//! Bearer tokens: HS256 JWTs whose `db` claim names the one database they open. Minted by the
//! `token` command (or the app's backend with the same secret), checked on every data request.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was issued to; logged, not checked.
    pub sub: String,
    /// The one database this token may read and write.
    pub db: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Any other claims the app's backend put in (a team, a role): sync rules may compare them
    /// (`:team`, docs/RULES.md); nothing else reads them.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// Every claim by name, `sub`, `db` and `exp` included: what sync rules see.
    pub fn all(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut all = self.extra.clone();
        all.insert("sub".into(), self.sub.clone().into());
        all.insert("db".into(), self.db.clone().into());
        all.insert("exp".into(), self.exp.into());
        all
    }
}

/// An HS256 JWT for `sub` on database `db`, valid for `ttl` from now.
pub fn mint_token(secret: &[u8], sub: &str, db: &str, ttl: Duration) -> String {
    mint_token_with(secret, sub, db, ttl, serde_json::Map::new())
}

/// The same token with `extra` claims besides `sub`, `db` and `exp` (which `extra` cannot
/// replace), for sync rules that compare them.
pub fn mint_token_with(
    secret: &[u8],
    sub: &str,
    db: &str,
    ttl: Duration,
    mut extra: serde_json::Map<String, serde_json::Value>,
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    for reserved in ["sub", "db", "exp"] {
        extra.remove(reserved);
    }
    let claims = Claims {
        sub: sub.to_owned(),
        db: db.to_owned(),
        exp: (now + ttl).as_secs(),
        extra,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing with an in-memory secret cannot fail")
}

/// The claims of a valid, unexpired token signed with `secret`.
pub fn verify_token(secret: &[u8], token: &str) -> Result<Claims, InvalidToken> {
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is exact: a token minted with a short TTL for a test or a demo must really expire.
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
        .map(|data| data.claims)
        .map_err(InvalidToken)
}

/// Why a token was refused: malformed, wrongly signed, expired, or missing a claim. Its message
/// goes back to the caller with `UNAUTHORIZED`; the JWT library stays out of the public API.
#[derive(Debug)]
pub struct InvalidToken(jsonwebtoken::errors::Error);

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InvalidToken {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
