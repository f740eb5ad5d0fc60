//! Parsed, valid values: what the routes accept once and trust afterwards.

mod email;
mod password;
mod profile;

pub use email::Email;
pub use password::{Password, hash_password, verify_password};
pub use profile::{CompanyName, FullName, SelfRegisterRole};
