//! Closed sets of words (statuses, kinds) as Rust enums that read and write one exact
//! string each: [`string_enum!`](crate::string_enum).

/// A `Copy` enum whose every variant is one exact string in JSON, in the database and in
/// messages: `as_str`, `ALL`, `Display`, and a `FromStr` that refuses anything else
/// (naming what it accepts). Nothing unknown ever becomes a default.
///
/// ```
/// common::string_enum! {
///     /// Where a thing stands.
///     pub enum Stage { Open = "open", Closed = "closed" }
/// }
/// assert_eq!("open".parse::<Stage>(), Ok(Stage::Open));
/// assert!("opened".parse::<Stage>().unwrap_err().contains("open, closed"));
/// ```
#[macro_export]
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $text:tt),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every word, in declaration order (a column's allowed values:
            /// [`OneOfWords`]($crate::db::OneOfWords)).
            pub const WORDS: &'static [&'static str] = &[$($text),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", [$($text),+].join(", "))),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A stored value that is not one of its column's words: the row is named, nothing is
/// guessed. Raised at the repository edge ([`stored`]); a server fault (500), logged with
/// the row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table} row {id}: {column} {value:?} {reason}")]
pub struct BadStoredValue {
    pub table: &'static str,
    pub id: String,
    pub column: &'static str,
    pub value: String,
    pub reason: String,
}

impl From<BadStoredValue> for sea_orm::DbErr {
    fn from(e: BadStoredValue) -> Self {
        sea_orm::DbErr::Type(e.to_string())
    }
}

/// Parses the stored `value` of `table.column` in row `id`, or says which row holds what.
pub fn stored<T: std::str::FromStr<Err = String>>(
    table: &'static str,
    id: impl std::fmt::Display,
    column: &'static str,
    value: &str,
) -> Result<T, BadStoredValue> {
    value.parse().map_err(|reason| BadStoredValue {
        table,
        id: id.to_string(),
        column,
        value: value.to_owned(),
        reason,
    })
}

/// Decodes the stored JSON `value` of `table.column` in row `id`, or says which row holds
/// what (a list of checks, say: never read as an empty one).
pub fn stored_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    id: impl std::fmt::Display,
    column: &'static str,
    value: &serde_json::Value,
) -> Result<T, BadStoredValue> {
    T::deserialize(value).map_err(|e| BadStoredValue {
        table,
        id: id.to_string(),
        column,
        value: value.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    crate::string_enum! {
        enum Light { Red = "red", Amber = "amber", Green = "green" }
    }

    #[test]
    fn the_api_schema_names_the_words_on_the_wire() {
        let schema = serde_json::to_value(<Light as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(
            schema["enum"],
            serde_json::json!(["red", "amber", "green"]),
            "{schema}"
        );
    }

    #[test]
    fn every_word_round_trips_and_nothing_else_parses() {
        assert_eq!(Light::WORDS, ["red", "amber", "green"]);
        for l in Light::ALL {
            assert_eq!(l.as_str().parse::<Light>(), Ok(*l));
            assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
        }
        assert_eq!(
            "blue".parse::<Light>().unwrap_err(),
            "must be one of red, amber, green"
        );
        assert!(serde_json::from_value::<Light>(serde_json::json!("Red")).is_err());
    }

    #[test]
    fn a_bad_stored_value_names_its_row() {
        let e = super::stored::<Light>("lights", 7, "colour", "blue").unwrap_err();
        assert_eq!(
            e.to_string(),
            "lights row 7: colour \"blue\" must be one of red, amber, green"
        );
    }
}
