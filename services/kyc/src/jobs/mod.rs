//! The processing queue. The seed's job shape (`{userId, documentType, filePath,
//! priority}`) plus the document id the result is written to.
//!
//! Priority needs two lists: a single list is FIFO and cannot put a job ahead of those
//! already waiting. High-priority jobs go on `kyc:processing:high`, the rest on
//! `kyc:processing`; a worker always takes from the high list first (one `BLMOVE` per list,
//! in order). A document is high priority when its owner is fixing a rejected submission.

pub mod worker;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::keys::QueueName;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::DocumentType;
use crate::state::AppState;
use crate::store::entity::document;
use common::enums::{BadStoredValue, stored};

common::string_enum! {
    /// Which queue a document's checks go to.
    pub enum Priority {
        Low = "low",
        High = "high",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KycJob {
    pub user_id: Uuid,
    pub document_type: DocumentType,
    pub document_id: Uuid,
    /// The storage key (made by the service, never a user-given name).
    pub file_path: String,
    pub priority: Priority,
}

impl KycJob {
    pub fn for_document(d: &document::Model) -> Result<Self, BadStoredValue> {
        Ok(Self {
            user_id: d.user_id,
            document_type: d.doc_type()?,
            document_id: d.id,
            file_path: d.storage_key.clone(),
            priority: stored("kyc_documents", d.id, "priority", &d.priority)?,
        })
    }
}

/// The queues a worker consumes, highest priority first.
pub fn queues(state: &AppState) -> [QueueName; 2] {
    [
        state.keys.kyc_processing_high(),
        state.keys.kyc_processing(),
    ]
}

pub async fn enqueue(state: &AppState, job: &KycJob) -> anyhow::Result<()> {
    let queue = match job.priority {
        Priority::High => state.keys.kyc_processing_high(),
        Priority::Low => state.keys.kyc_processing(),
    };
    service_kit::queue::enqueue_json(&state.redis, &queue, job).await?;
    Ok(())
}

/// Enqueues again the documents still queued `older_than` after their last enqueue: a
/// process that died between committing an upload and pushing its job loses nothing.
/// Processing is idempotent, so a job sent twice costs a little work, never a second
/// result.
pub async fn requeue_stale(
    state: &AppState,
    older_than: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let cutoff = now - chrono::Duration::from_std(older_than)?;
    let stale = document::Entity::find()
        .filter(document::Column::Status.eq("queued"))
        .filter(document::Column::EnqueuedAt.lt(cutoff))
        .order_by_asc(document::Column::EnqueuedAt)
        .limit(500)
        .all(&state.db)
        .await?;
    let mut sent = 0;
    for d in stale {
        // Claim the re-send (another process may be sweeping too).
        let claimed = document::Entity::update_many()
            .col_expr(document::Column::EnqueuedAt, Expr::value(now))
            .filter(document::Column::Id.eq(d.id))
            .filter(document::Column::Status.eq("queued"))
            .filter(document::Column::EnqueuedAt.eq(d.enqueued_at))
            .exec(&state.db)
            .await?;
        if claimed.rows_affected == 1 {
            enqueue(state, &KycJob::for_document(&d)?).await?;
            sent += 1;
        }
    }
    if sent > 0 {
        tracing::info!(sent, "Stale KYC documents enqueued again.");
    }
    Ok(sent)
}

/// How often the supervised task `requeue` runs a round: every minute, or every
/// `KYC_REQUEUE_AFTER` if shorter.
pub fn requeue_every(state: &AppState) -> Duration {
    Duration::from_secs(60).min(state.config.requeue_after)
}

/// One round of the task `requeue`: [`requeue_stale`] at the clock's now.
pub async fn requeue_round(state: AppState) -> anyhow::Result<usize> {
    requeue_stale(&state, state.config.requeue_after, state.clock.now()).await
}
