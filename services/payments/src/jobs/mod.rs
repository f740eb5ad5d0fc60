//! Background work: the expiry and reconciliation [`sweep`], the [`settlements`] worker
//! that sends money out, and the applier of accepted [`webhooks`].

pub mod settlements;
pub mod sweep;
pub mod webhooks;
