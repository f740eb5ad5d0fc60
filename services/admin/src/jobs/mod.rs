//! Background work: copying the audit chain's head outside the database
//! ([`head_copy`]).

pub mod head_copy;
