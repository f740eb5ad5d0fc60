//! Background work: the overdue/default [`sweep`].

pub mod sweep;
