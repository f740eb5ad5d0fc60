//! One error shape for every 4xx/5xx: `application/problem+json` (RFC 9457).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field's name in the request (`email`, `debtor.name`).
    pub field: String,
    pub message: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The fields at fault, for validation problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For a 412 (a decision on a version that is no longer current): the resource as
    /// it is now, with its `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        let slug = match status.as_u16() {
            400 => "bad-request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not-found",
            405 => "method-not-allowed",
            409 => "conflict",
            412 => "precondition-failed",
            413 => "payload-too-large",
            415 => "unsupported-media-type",
            422 => "validation-error",
            428 => "precondition-required",
            429 => "rate-limited",
            503 => "unavailable",
            _ if status.is_server_error() => "server-error",
            _ => "client-error",
        };
        Self {
            problem_type: format!("https://vestio.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            current: None,
        }
    }

    pub fn response(&self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
            .body(serde_json::to_string(self).unwrap_or_default())
    }
}

/// The error every handler returns. Internal causes are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    /// A 401 that names what more the request needs (a login's second factor:
    /// `totp_code`), so that a client can ask for it.
    #[error("{detail}")]
    UnauthorizedFields {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    Validation {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Unavailable(String),
    /// A decision made on a version that is no longer current (412): the problem carries
    /// the resource as it is now, and the response its `ETag`.
    #[error("{detail}")]
    PreconditionFailed {
        detail: String,
        version: i64,
        current: Box<serde_json::Value>,
    },
    /// A decision that must name the version it was made on did not (428).
    #[error("{0}")]
    PreconditionRequired(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 422 naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Validation {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError {
                field: field.to_owned(),
                message,
            }],
        }
    }

    /// `raw` trimmed, or a 422 naming `field` unless it has `min..=max` characters and
    /// one that is not white space (a reviewer's reason, say). The count is of `raw` as
    /// sent, so a document's `minLength`/`maxLength` and `pattern: "\\S"` say exactly
    /// what is taken.
    pub fn text_between<'a>(
        field: &str,
        raw: &'a str,
        min: usize,
        max: usize,
    ) -> Result<&'a str, Self> {
        if (min..=max).contains(&raw.chars().count()) && raw.chars().any(|c| !c.is_whitespace()) {
            Ok(raw.trim())
        } else {
            Err(Self::field(
                field,
                format!("must be {min} to {max} characters, not all white space"),
            ))
        }
    }

    /// A 401 naming the field the request lacks or got wrong (`totp_code`).
    pub fn unauthorized_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::UnauthorizedFields {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError {
                field: field.to_owned(),
                message,
            }],
        }
    }

    /// A 422 naming several fields.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self::Validation { detail, errors }
    }

    /// A 422 with no particular field.
    pub fn validation_message(detail: impl Into<String>) -> Self {
        Self::Validation {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        match self {
            ApiError::Internal(err) if backing_failed(err) => {
                tracing::error!(error = ?err, "Request failed: Redis or the database did not answer.");
                Problem::new(status, UNAVAILABLE)
            }
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "Request failed.");
                Problem::new(status, "an internal error occurred; it has been logged")
            }
            ApiError::Validation { detail, errors }
            | ApiError::UnauthorizedFields { detail, errors } => Problem {
                errors: errors.clone(),
                ..Problem::new(status, detail.clone())
            },
            ApiError::PreconditionFailed {
                detail, current, ..
            } => Problem {
                current: Some((**current).clone()),
                ..Problem::new(status, detail.clone())
            },
            other => Problem::new(status, other.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) | ApiError::UnauthorizedFields { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            ApiError::Internal(err) if backing_failed(err) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = self.problem().response();
        match self {
            ApiError::Unauthorized(_) | ApiError::UnauthorizedFields { .. } => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vestio\""),
                );
            }
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::PreconditionFailed { version, .. } => {
                if let Ok(v) = HeaderValue::from_str(&super::version::etag(*version)) {
                    res.headers_mut().insert(header::ETAG, v);
                }
            }
            _ if res.status() == StatusCode::SERVICE_UNAVAILABLE => {
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE),
                );
            }
            _ => {}
        }
        res
    }
}

/// What a 503 tells a client to wait, in seconds: Redis loading or reconnecting, or the
/// database pool replacing a dropped connection, is a matter of seconds.
pub const RETRY_AFTER_UNAVAILABLE: &str = "1";

const UNAVAILABLE: &str = "a backing service is unavailable; try again shortly";

/// Whether an unexpected error came from Redis (unreachable, timed out, `LOADING` after a
/// restart) or from a database that could not be reached or dropped the connection
/// ([`crate::db::is_unavailable`]): that is a 503 the client may retry, not a 500.
fn backing_failed(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<fred::error::Error>().is_some()
            || cause
                .downcast_ref::<sea_orm::DbErr>()
                .is_some_and(crate::db::is_unavailable)
    })
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        if crate::db::is_unique_violation(&err) {
            ApiError::Conflict("a resource with these unique values already exists".into())
        } else if crate::db::is_unavailable(&err) {
            tracing::warn!(error = %err, "Database unavailable.");
            ApiError::Unavailable(UNAVAILABLE.into())
        } else {
            ApiError::Internal(err.into())
        }
    }
}

/// A stored value that is not one of its column's words: a fault of the data, not of the
/// request (500; the log names the row).
impl From<common::enums::BadStoredValue> for ApiError {
    fn from(err: common::enums::BadStoredValue) -> Self {
        ApiError::Internal(err.into())
    }
}

impl From<fred::error::Error> for ApiError {
    fn from(err: fred::error::Error) -> Self {
        tracing::error!(error = %err, "Redis command failed.");
        ApiError::Unavailable(UNAVAILABLE.into())
    }
}

/// A JSON body error as a problem: the field at fault when serde names one.
pub(crate) fn from_json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { length, limit } => ApiError::PayloadTooLarge(format!(
            "body of {length} bytes exceeds the {limit}-byte limit"
        )),
        E::Overflow { limit } => {
            ApiError::PayloadTooLarge(format!("body exceeds the {limit}-byte limit"))
        }
        E::ContentType => {
            ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
        }
        E::Deserialize(e) if e.is_data() => {
            // serde's messages: "missing field `email` at line 1 column 2",
            // "unknown variant `x`, expected ..." etc.
            let msg = e.to_string();
            let field = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.starts_with("missing field") || msg.starts_with("unknown field"))
                .map(str::to_owned);
            match field {
                Some(f) => ApiError::field(&f, strip_position(&msg)),
                None => ApiError::validation_message(strip_position(&msg)),
            }
        }
        E::Deserialize(e) => ApiError::BadRequest(format!(
            "malformed JSON: {}",
            strip_position(&e.to_string())
        )),
        other => ApiError::BadRequest(format!("unreadable body: {other}")),
    }
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_names_the_field() {
        let p = ApiError::field("email", "is not an email address").problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.errors[0].field, "email");
        assert!(p.detail.contains("email"));
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let p = ApiError::internal(anyhow::anyhow!("password=hunter2")).problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("hunter2"));
    }
}
