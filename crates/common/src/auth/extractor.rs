use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use uuid::Uuid;

use super::claims::{Claims, KycStatus, Role};
use super::verifier::{TokenError, Verifier};
use crate::http::ApiError;

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

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move {
            let verifier = verifier.ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("Verifier not registered as app data"))
            })?;
            let token = token.ok_or(TokenError::Missing)?;
            let claims = verifier.verify(&token).await?;
            Ok(AuthUser {
                id: claims.sub,
                role: claims.role,
                kyc: claims.kyc,
                claims,
            })
        })
    }
}
