//! The one error type of the API and its one mapping to HTTP, in the provider's shape:
//! `{"status": false, "message": "..."}`. Successes are `{"status": true, "message", "data"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A body, query or path that does not parse.
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid or missing secret key (Authorization: Bearer <secret_key>)")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts what exists (another amount for a reference, a transaction
    /// that is no longer pending).
    #[error("{0}")]
    Conflict(String),
    /// A value that parses but is not acceptable.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::Internal(e) => {
                tracing::error!(error = %e, "Request failed.");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        HttpResponse::build(self.status_code()).json(json!({"status": false, "message": message}))
    }
}

/// `200 {"status": true, "message": message, "data": data}`.
pub fn ok(message: &str, data: impl Serialize) -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": true, "message": message, "data": data}))
}

/// Extractor errors (bad JSON, query, form or path) in the same shape, as 400s.
pub fn bad_request(err: impl std::fmt::Display) -> actix_web::Error {
    ApiError::BadRequest(err.to_string()).into()
}
