use common::auth::Role;

/// The roles a user may register with (admins are created by an operator).
pub struct SelfRegisterRole;

impl SelfRegisterRole {
    pub fn parse(raw: &str) -> Result<Role, String> {
        match raw {
            "seller" => Ok(Role::Seller),
            "investor" => Ok(Role::Investor),
            _ => Err("must be seller or investor".into()),
        }
    }
}

/// A name as sent: at most `max` characters, no control character (Unicode's Cc:
/// U+0000-U+001F, U+007F-U+009F), something besides spaces; kept without its outer
/// spaces. The document says the same ([`TEXT_PATTERN`], `maxLength`).
fn clean_text(raw: &str, max: usize) -> Result<String, String> {
    if raw.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let s = raw.trim_matches(' ');
    if s.is_empty() {
        return Err("is required".into());
    }
    Ok(s.to_owned())
}

/// [`clean_text`] as a JSON Schema pattern: a character besides spaces, no control
/// character.
pub const TEXT_PATTERN: &str = r"^(?=[\s\S]*[^ ])[^\x00-\x1f\x7f-\x9f]*$";

pub struct FullName;

impl FullName {
    pub fn parse(raw: &str) -> Result<String, String> {
        clean_text(raw, 100)
    }
}

pub struct CompanyName;

impl CompanyName {
    pub fn parse(raw: &str) -> Result<String, String> {
        clean_text(raw, 200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_cannot_be_self_registered() {
        assert!(SelfRegisterRole::parse("admin").is_err());
        assert_eq!(SelfRegisterRole::parse("seller"), Ok(Role::Seller));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(FullName::parse("  Ada Obi ").unwrap(), "Ada Obi");
        assert!(FullName::parse("   ").is_err());
        assert!(FullName::parse(&"x".repeat(101)).is_err());
        assert!(CompanyName::parse("Acme\u{0007}").is_err());
    }
}
