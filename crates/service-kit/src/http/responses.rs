//! Error responses that many routes share, for `#[utoipa::path(responses(...))]`: list the
//! route's own answers as tuples and add these types for the common ones.

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            super::PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

fn responses(list: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| ((*status).to_owned(), problem(description)))
        .collect()
}

/// 400, 413, 415 and 422: what any route with a JSON body may answer to a bad body.
pub struct JsonBodyErrors;

impl utoipa::IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            ("400", "Malformed JSON"),
            ("413", "Body too large"),
            ("415", "Body is not application/json"),
            ("422", "Invalid or missing field (named in `errors`)"),
        ])
    }
}

/// 401 and 503: what any route behind a bearer token may answer.
pub struct TokenErrors;

impl utoipa::IntoResponses for TokenErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            ("401", "Missing, invalid, expired or revoked token"),
            (
                "503",
                "The token could not be checked (Redis unavailable); retry",
            ),
        ])
    }
}

/// 400, 412 and 428: what a route that takes `If-Match` (a decision on a version) may
/// answer besides its own statuses.
pub struct VersionErrors;

impl utoipa::IntoResponses for VersionErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            (
                "400",
                "Malformed request (If-Match that names no single strong ETag, or a bad body)",
            ),
            (
                "412",
                "The resource changed since the version in If-Match; `current` holds it as it is now",
            ),
            ("428", "If-Match is missing: send the ETag you read"),
        ])
    }
}
