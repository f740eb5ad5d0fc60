//! Background work: the expiry and reconciliation [`sweep`], and the [`settlements`]
//! worker that sends money out.

pub mod settlements;
pub mod sweep;
