//! Background work: the [`push`] worker (and its providers).

pub mod push;
