pub mod document;
pub mod download;
pub mod profile;
pub mod submission;
