pub mod refresh_token;
pub mod totp_factor;
pub mod user;
