pub mod acceptance;
pub mod history;
pub mod invoice;
pub mod offer_count;
