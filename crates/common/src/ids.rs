//! Typed identifiers: a `UserId` cannot be passed where an `InvoiceId` is meant. Each is
//! a UUID on the wire and in the database (`#[serde(transparent)]`, a `uuid` column).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl From<$name> for sea_orm::Value {
            fn from(id: $name) -> sea_orm::Value {
                id.0.into()
            }
        }

        impl PartialEq<Uuid> for $name {
            fn eq(&self, other: &Uuid) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for Uuid {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    )+};
}

id_type!(
    /// A user of auth (seller, investor or admin).
    UserId,
    /// An invoice of the invoice service.
    InvoiceId,
    /// An investor's offer on an invoice (marketplace).
    OfferId,
    /// A KYC submission.
    SubmissionId,
    /// A KYC document.
    DocumentId,
    /// A payment of the payments service.
    PaymentId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_bare_uuid_on_the_wire() {
        let id = InvoiceId(Uuid::now_v7());
        let json = serde_json::to_value(id).unwrap();
        assert_eq!(json, serde_json::json!(id.0.to_string()));
        assert_eq!(serde_json::from_value::<InvoiceId>(json).unwrap(), id);
        assert_eq!(id.to_string().parse::<InvoiceId>().unwrap(), id);
        assert!(serde_json::from_value::<InvoiceId>(serde_json::json!(12)).is_err());
    }
}
