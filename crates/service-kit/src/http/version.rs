//! Versions on what people decide on: a resource that someone accepts, approves or edits
//! carries a version (in its JSON and as a strong `ETag: "<version>"`), bumped by every
//! change. A decision names the version it was made on in `If-Match`; the write is a
//! conditional update on that version, so a change that commits between the read and the
//! decision makes the decision fail (412, with the current resource) instead of applying
//! it to terms nobody saw. A decision without `If-Match` is refused (428).

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponseBuilder};
use std::future::{Ready, ready};

use super::ApiError;

/// The `ETag` of version `v`: `"v"` (a strong validator: the version changes with every
/// change of the resource).
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// `status` with `body` as JSON and the `ETag` of `version`.
pub fn respond(
    status: actix_web::http::StatusCode,
    version: i64,
    body: &impl serde::Serialize,
) -> actix_web::HttpResponse {
    HttpResponseBuilder::new(status)
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// The version a request's `If-Match` names, if it names one (one that names no single
/// version: `*`, a weak or malformed tag, a list, is a 400 at extraction). A decision
/// calls [`IfMatch::required`] after its role and ownership checks, so that a caller who
/// may not decide at all hears 403/404 first, and one who may hears 428 without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<i64>);

impl IfMatch {
    /// The version, or a 428: this decision must name what it was made on.
    pub fn required(self) -> Result<i64, ApiError> {
        self.0.ok_or_else(|| {
            ApiError::PreconditionRequired(
                "this decision needs If-Match: the ETag (version) of what you reviewed, from its GET".into(),
            )
        })
    }
}

/// What an `If-Match` value says: the one version it names.
pub fn parse_if_match(raw: &HeaderValue) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::BadRequest(
            "If-Match must be the ETag you read, one strong tag such as \"3\"".into(),
        )
    };
    let s = raw.to_str().map_err(|_| bad())?.trim();
    // The ETag as sent (`"3"`), or its digits alone (`3`), which some clients send.
    let inner = match s.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').ok_or_else(bad)?,
        None => s,
    };
    if inner.is_empty() || inner.len() > 18 || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    inner.parse::<i64>().map_err(|_| bad())
}

fn header_value(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let mut values = req.headers().get_all(header::IF_MATCH);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::BadRequest(
            "send one If-Match header naming one version".into(),
        ));
    }
    parse_if_match(first).map(Some)
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(header_value(req).map(IfMatch))
    }
}

/// [`stale`] with `current` as it serializes (a 500 if it cannot).
pub fn stale_view(
    what: &str,
    seen: i64,
    current_version: i64,
    current: &impl serde::Serialize,
) -> ApiError {
    match serde_json::to_value(current) {
        Ok(current) => stale(what, seen, current_version, current),
        Err(e) => ApiError::internal(e),
    }
}

/// The 412 for a decision made on `seen` when the resource is at `current` now: the
/// problem carries the resource as it is, so the client can show it and ask again.
pub fn stale(what: &str, seen: i64, current_version: i64, current: serde_json::Value) -> ApiError {
    ApiError::PreconditionFailed {
        detail: format!(
            "the {what} changed since you read it (you sent version {seen}, it is at version {current_version}); review it again"
        ),
        version: current_version,
        current: Box::new(current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<i64, ApiError> {
        parse_if_match(&HeaderValue::from_str(s).unwrap())
    }

    #[test]
    fn if_match_names_one_strong_version() {
        assert_eq!(parse("\"3\"").unwrap(), 3);
        assert_eq!(parse(" \"12\" ").unwrap(), 12);
        // The digits alone, as some clients send them.
        assert_eq!(parse("3").unwrap(), 3);
        for bad in [
            "W/\"3\"",
            "\"3",
            "*",
            "\"\"",
            "\"3\", \"4\"",
            "\"-1\"",
            "\"x\"",
            "\"1234567890123456789\"",
        ] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn etag_round_trips_through_if_match() {
        let tag = etag(42);
        assert_eq!(parse(&tag).unwrap(), 42);
    }
}
