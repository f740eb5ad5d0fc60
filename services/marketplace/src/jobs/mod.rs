//! Background work: the offer-expiry [`sweep`].

pub mod sweep;
