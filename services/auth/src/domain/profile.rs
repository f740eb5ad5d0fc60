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

fn clean_text(raw: &str, max: usize) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("is required".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_owned())
}

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
