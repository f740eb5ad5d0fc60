//! Background work: the [`push`] worker (and its providers), and the [`effects`] sweep
//! that redoes after-commit effects a dead process left undone.

pub mod effects;
pub mod push;
