//! Background work: the expiry and reconciliation [`sweep`], the [`settlements`] worker
//! that sends money out, and the applier of accepted [`webhooks`] (which gives way to
//! deliveries being [`answering`]).

pub mod answering;
pub mod settlements;
pub mod sweep;
pub mod webhooks;
