use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use uuid::Uuid;

use crate::http::ApiError;
use common::auth::{Claims, KycStatus, Role};
use common::auth::{TokenError, Verifier, judge_revocation};

/// The authenticated caller. Handlers take this (and check roles with
/// [`AuthUser::require`]); nothing else parses tokens.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
    pub kyc: KycStatus,
    pub claims: Claims,
}

impl AuthUser {
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Self, ApiError> {
        if roles.contains(&self.role) {
            Ok(self)
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "this action needs the role {}",
                names.join(" or ")
            )))
        }
    }

    /// 403 unless the caller's KYC is approved.
    pub fn require_kyc_approved(&self) -> Result<&Self, ApiError> {
        if self.kyc == KycStatus::Approved {
            Ok(self)
        } else {
            Err(ApiError::Forbidden("this action needs approved KYC".into()))
        }
    }
}

/// Role guard for handlers: `RequireRole::admin(&user)?`.
pub struct RequireRole;

impl RequireRole {
    pub fn admin(user: &AuthUser) -> Result<(), ApiError> {
        user.require(&[Role::Admin]).map(|_| ())
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Unavailable => ApiError::Unavailable(e.to_string()),
            other => ApiError::Unauthorized(other.to_string()),
        }
    }
}

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A caller whose token is signed, current and meant for us, but not yet checked against
/// the blacklist and the user's "revoked before" marker: for a handler that reads Redis
/// anyway and sends the check in the same round trip (ARCHITECTURE.md: revocation is
/// checked "in the same Redis round trip as the request's own reads").
///
/// ```ignore
/// let pipeline = caller.verifier().redis().next().pipeline();
/// caller.queue_check(&pipeline).await?;
/// let _: () = pipeline.get(my_key).await?;            // the handler's own reads
/// let (blacklisted, revoked_before, mine): (i64, Option<i64>, Option<String>) =
///     pipeline.all().await.map_err(unavailable)?;
/// let user = caller.confirm(blacklisted, revoked_before)?; // answer nothing before this
/// ```
pub struct PendingUser {
    claimed: AuthUser,
    verifier: Verifier,
}

impl PendingUser {
    /// Who the token says the caller is. Use it to build the reads; answer nothing to the
    /// caller before [`Self::confirm`].
    pub fn claimed(&self) -> &AuthUser {
        &self.claimed
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// A pipeline on this worker thread's client of `redis` with the revocation reads
    /// queued (its first two answers): the handler queues its own reads after them and
    /// confirms with [`Self::confirm`]. Redis failing is a 503 (the token cannot be
    /// checked: fail closed).
    pub async fn checked_pipeline(
        &self,
        redis: &crate::redis::PerThread,
    ) -> Result<fred::clients::Pipeline<fred::clients::Client>, ApiError> {
        let pipeline = redis.client().await.map_err(unavailable)?.pipeline();
        self.queue_check(&pipeline).await?;
        Ok(pipeline)
    }

    /// The caller confirmed and the cache entry of `key` in `scope` looked up, in one
    /// round trip ([`Self::checked_pipeline`] with [`crate::cache::Cache::queue_lookup`]):
    /// the scope's generation and the entry, for [`crate::cache::Cache::answer`].
    pub async fn confirm_with_lookup(
        self,
        redis: &crate::redis::PerThread,
        cache: &crate::cache::Cache,
        scope: &str,
        key: &str,
    ) -> Result<(AuthUser, Option<u64>, Option<crate::cache::Bytes>), ApiError> {
        let pipeline = self.checked_pipeline(redis).await?;
        cache
            .queue_lookup(&pipeline, scope, key)
            .await
            .map_err(unavailable)?;
        let (blacklisted, revoked_before, generation, entry) = pipeline
            .all::<(i64, Option<i64>, Option<u64>, Option<crate::cache::Bytes>)>()
            .await
            .map_err(unavailable)?;
        let user = self.confirm(blacklisted, revoked_before)?;
        Ok((user, generation, entry))
    }

    /// Queues the revocation reads (two answers) on `pipeline`.
    pub async fn queue_check(
        &self,
        pipeline: &fred::clients::Pipeline<fred::clients::Client>,
    ) -> Result<(), ApiError> {
        Ok(self
            .verifier
            .queue_revocation(pipeline, &self.claimed.claims)
            .await?)
    }

    /// The caller, once the two answers of [`Self::queue_check`] show the token is not
    /// revoked.
    pub fn confirm(
        self,
        blacklisted: i64,
        revoked_before: Option<i64>,
    ) -> Result<AuthUser, ApiError> {
        judge_revocation(&self.claimed.claims, blacklisted, revoked_before)?;
        Ok(self.claimed)
    }
}

fn verifier_of(req: &HttpRequest) -> Result<Verifier, ApiError> {
    req.app_data::<web::Data<Verifier>>()
        .map(|v| v.get_ref().clone())
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("Verifier not registered as app data")))
}

fn user_of(claims: Claims) -> AuthUser {
    AuthUser {
        id: claims.sub,
        role: claims.role,
        kyc: claims.kyc,
        claims,
    }
}

impl FromRequest for PendingUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = verifier_of(req);
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move {
            let verifier = verifier?;
            let token = token.ok_or(TokenError::Missing)?;
            let claims = verifier.verify_unrevoked(&token).await?;
            Ok(PendingUser {
                claimed: user_of(claims),
                verifier,
            })
        })
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = verifier_of(req);
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move {
            let token = token.ok_or(TokenError::Missing)?;
            let claims = verifier?.verify(&token).await?;
            Ok(user_of(claims))
        })
    }
}

/// Redis could not answer while a token was being checked: fail closed (503).
pub fn unavailable(error: fred::error::Error) -> ApiError {
    common::auth::unavailable(error).into()
}
