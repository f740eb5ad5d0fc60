pub mod history;
pub mod invoice;
