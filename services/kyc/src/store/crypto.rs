//! Identity numbers encrypted at rest: the kit's [`FieldCipher`] (AES-256-GCM, `v1:`
//! values) with the key given in base64 by `KYC_IDENTITY_KEY` (wins) or read from
//! `KYC_IDENTITY_KEY_FILE`; shown to admins masked ([`mask`]).

pub use service_kit::crypto::FieldCipher as IdentityCipher;

/// The variable that names the identity key (its errors say so).
pub const KEY_VAR: &str = "KYC_IDENTITY_KEY";

/// Only the last four characters: `*******1234`. Four or fewer are all hidden.
pub fn mask(number: &str) -> String {
    let len = number.chars().count();
    let shown = if len > 4 { 4 } else { 0 };
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i < len - shown { '*' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_shows_only_the_last_four_digits() {
        assert_eq!(mask("22212345678"), "*******5678");
        assert_eq!(mask("12345"), "*2345");
        assert_eq!(mask("1234"), "****");
        assert_eq!(mask(""), "");
    }
}
