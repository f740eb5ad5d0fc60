//! The secret key of server-to-server calls, checked in one extractor: a handler that takes
//! [`SecretKey`] answers 401 unless `Authorization: Bearer <secret_key>` matches.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::error::ApiError;

/// Proof that the caller sent the secret key.
pub struct SecretKey;

impl FromRequest for SecretKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req
            .app_data::<web::Data<App>>()
            .map(|app| app.config.secret_key.as_bytes());
        let given = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::as_bytes);
        ready(match (expected, given) {
            (Some(expected), Some(given))
                if !expected.is_empty() && bool::from(expected.ct_eq(given)) =>
            {
                Ok(SecretKey)
            }
            _ => Err(ApiError::Unauthorized),
        })
    }
}
