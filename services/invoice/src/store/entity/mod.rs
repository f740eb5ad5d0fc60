pub mod history;
pub mod invoice;
pub mod offer_count;
