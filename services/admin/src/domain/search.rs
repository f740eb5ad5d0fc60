//! Audit search: the query string as sent, checked into an [`AuditQuery`] whose JSON is
//! the canonical form hashed into `audit:search:{hash}` (so the order of the parameters
//! cannot split cache entries).

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use service_kit::http::FieldError;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::domain::audit::ResourceType;

/// Rows per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u64 = 50;
/// The most rows one page holds.
pub const MAX_LIMIT: u64 = 200;

/// `GET /api/admin/audit`'s query string. Unknown parameters are refused (422).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// The user who acted (a UUID).
    #[param(format = Uuid)]
    pub actor: Option<String>,
    /// An event type of the catalogue (`offer.accepted`).
    #[param(schema_with = event_types)]
    pub action: Option<String>,
    /// `user`, `kyc_document`, `kyc_submission`, `invoice`, `offer` or `payment`.
    #[param(value_type = Option<ResourceType>)]
    pub resource_type: Option<String>,
    /// The resource's id (a UUID).
    #[param(format = Uuid)]
    pub resource_id: Option<String>,
    /// Recorded at or after (RFC 3339, 1970 or later). After `to`, nothing matches.
    #[param(format = DateTime, pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub from: Option<String>,
    /// Recorded at or before (RFC 3339, 1970 or later).
    #[param(format = DateTime, pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub to: Option<String>,
    /// Rows per page, 1 to 200 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// The catalogue's event types, each one word of an enum.
fn event_types() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(common::events::CATALOGUE.iter().map(|t| t.name)))
        .build()
}

/// A checked search. Serialised (fields in this order, values normalised) it is the
/// canonical query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditQuery {
    pub actor: Option<Uuid>,
    pub action: Option<&'static str>,
    pub resource_type: Option<ResourceType>,
    pub resource_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u64,
    /// Rows before this place in the chain (the cursor).
    pub before: Option<i64>,
}

impl AuditParams {
    /// The search asked for, or every parameter at fault.
    pub fn parse(&self) -> Result<AuditQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: &str| {
            errors.push(FieldError {
                field: field.into(),
                message: message.into(),
            })
        };
        let mut uuid = |field: &str, v: &Option<String>| {
            v.as_deref().and_then(|s| {
                s.parse::<Uuid>()
                    .map_err(|_| err(field, "must be a UUID"))
                    .ok()
            })
        };
        let actor = uuid("actor", &self.actor);
        let resource_id = uuid("resource_id", &self.resource_id);
        let action = self.action.as_deref().and_then(|a| {
            common::events::event_type(a).map(|t| t.name).or_else(|| {
                err(
                    "action",
                    "must be an event type of the catalogue (docs/messaging.md)",
                );
                None
            })
        });
        let resource_type = self.resource_type.as_deref().and_then(|r| {
            r.parse::<ResourceType>()
                .map_err(|m| err("resource_type", &m))
                .ok()
        });
        let mut time = |field: &str, v: &Option<String>| {
            v.as_deref().and_then(|t| {
                DateTime::parse_from_rfc3339(t)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
                    .filter(|t| (1970..=9999).contains(&t.year()))
                    .or_else(|| {
                        err(
                            field,
                            "must be an RFC 3339 time from 1970 to 9999, such as 2027-01-31T09:00:00Z",
                        );
                        None
                    })
            })
        };
        let from = time("from", &self.from);
        let to = time("to", &self.to);
        let limit = match self.limit.as_deref().map(|l| l.parse::<u64>()) {
            None => DEFAULT_LIMIT,
            Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
            Some(_) => {
                err("limit", "must be a whole number from 1 to 200");
                DEFAULT_LIMIT
            }
        };
        let before = match self.cursor.as_deref().map(|c| c.parse::<i64>()) {
            None => None,
            Some(Ok(c)) if c > 0 => Some(c),
            Some(_) => {
                err("cursor", "must be a next_cursor this search returned");
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AuditQuery {
            actor,
            action,
            resource_type,
            resource_id,
            from: from.map(crate::domain::audit::micros),
            to: to.map(crate::domain::audit::micros),
            limit,
            before,
        })
    }
}

impl AuditQuery {
    /// The canonical form (its JSON).
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> AuditParams {
        let query: String = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        serde_urlencoded_like(&query)
    }

    /// Parses `a=b&c=d` the way the route's extractor does (serde, unknown refused).
    fn serde_urlencoded_like(query: &str) -> AuditParams {
        let map: serde_json::Map<String, serde_json::Value> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_owned(), serde_json::Value::String(v.to_owned()))
            })
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).unwrap()
    }

    #[test]
    fn the_canonical_query_does_not_depend_on_the_order_of_the_parameters() {
        let id = Uuid::now_v7().to_string();
        let a = params(&[
            ("action", "offer.accepted"),
            ("resource_id", &id),
            ("from", "2026-01-01T00:00:00Z"),
            ("limit", "10"),
        ]);
        let b = params(&[
            ("limit", "10"),
            ("from", "2026-01-01T01:00:00+01:00"),
            ("resource_id", &id.to_uppercase()),
            ("action", "offer.accepted"),
        ]);
        let (a, b) = (a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(a.canonical(), b.canonical());
        let c = params(&[("action", "offer.accepted"), ("limit", "10")]);
        assert_ne!(a.canonical(), c.parse().unwrap().canonical());
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let bad = params(&[
            ("actor", "me"),
            ("action", "offer.bought"),
            ("resource_type", "account"),
            ("resource_id", "1"),
            ("from", "0001-01-01T00:00:00Z"),
            ("to", "2026-13-01T00:00:00Z"),
            ("limit", "0"),
            ("cursor", "-4"),
        ]);
        let fields: Vec<String> = bad
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "actor",
                "resource_id",
                "action",
                "resource_type",
                "from",
                "to",
                "limit",
                "cursor"
            ]
        );
        let reversed = params(&[
            ("from", "2026-02-01T00:00:00Z"),
            ("to", "2026-01-01T00:00:00Z"),
        ]);
        // A window that ends before it starts is a search that finds nothing, not an error.
        assert!(reversed.parse().is_ok());
        let limit = params(&[("limit", "201")]);
        assert_eq!(limit.parse().unwrap_err()[0].field, "limit");
    }
}
