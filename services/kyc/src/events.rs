//! Payloads of the events KYC publishes (outbox -> `events:{consumer}`). Identity numbers
//! are never in them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{DocumentStatus, DocumentType};

#[derive(Debug, Serialize, Deserialize)]
pub struct DocumentProcessed {
    pub user_id: Uuid,
    pub document_id: Uuid,
    pub document_type: DocumentType,
    pub status: DocumentStatus,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Submitted {
    pub user_id: Uuid,
    pub submission_id: Uuid,
    pub role: common::auth::Role,
}

/// `kyc.approved` and `kyc.rejected` (auth reads `user_id`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Decided {
    pub user_id: Uuid,
    pub submission_id: Uuid,
    pub reviewed_by: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub fn envelope(
    state: &crate::state::AppState,
    event_type: &str,
    payload: &impl Serialize,
) -> anyhow::Result<common::events::Envelope> {
    Ok(common::events::Envelope::new(
        common::events::Service::Kyc,
        event_type,
        payload,
        state.clock.as_ref(),
    )?)
}
