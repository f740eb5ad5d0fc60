//! The envelope of a KYC event (outbox -> `events:{consumer}`): the payload types are
//! `common::events::kyc`'s. Identity numbers are never in them.

use common::events::{Envelope, KycEvent};

pub fn envelope(state: &crate::state::AppState, event: KycEvent) -> anyhow::Result<Envelope> {
    Ok(Envelope::of(event, state.clock.as_ref())?)
}
