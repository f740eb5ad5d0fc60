//! Parsed, valid values (what the routes accept once and trust afterwards) and
//! [`AuthError`], why an operation did not happen. No actix, sea-orm or Redis here.

mod email;
mod error;
mod password;
mod profile;
pub mod totp;

pub use email::Email;
pub use error::{AuthError, RefreshRefusal};
pub use password::{PATTERN as PASSWORD_PATTERN, Password, hash_password, verify_password};
pub use profile::{CompanyName, FullName, SelfRegisterRole, TEXT_PATTERN as NAME_PATTERN};
