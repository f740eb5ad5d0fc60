//! A user's KYC at a glance: computed from the database, cached in `kyc:{userId}` (written
//! through after every change, only ever replaced by a newer version, served only while
//! its version is current) and published on `kyc:status:{userId}`. Publishers race (an
//! upload's handler and the worker's result), so messages can arrive out of order: a
//! subscriber keeps the one with the greatest `version`.

use chrono::{DateTime, Utc};
use common::auth::Role;
use common::keys::ttl;
use fred::prelude::KeysInterface;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{DocumentStatus, DocumentType, ProfileStatus};
use crate::state::AppState;
use crate::store::entity::{document, profile, submission};
use common::enums::BadStoredValue;

/// The latest document of one type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DocumentSummary {
    pub id: Uuid,
    pub document_type: DocumentType,
    pub status: DocumentStatus,
    /// Why it was rejected, for the user.
    pub reasons: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// The caller's KYC.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KycOverview {
    pub user_id: Uuid,
    pub status: ProfileStatus,
    /// Grows with every change.
    pub version: i64,
    pub required_documents: Vec<DocumentType>,
    /// The latest document of each type uploaded.
    pub documents: Vec<DocumentSummary>,
    /// Required types without an accepted latest document.
    pub missing_documents: Vec<DocumentType>,
    /// Every required document is accepted and nothing is in review or approved.
    pub can_submit: bool,
    pub submission_id: Option<Uuid>,
    /// The reviewer's reason, when rejected.
    pub rejection_reason: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The document as the API shows it; an error names the row if a stored value is not one
/// the service knows.
pub fn summary(d: &document::Model) -> Result<DocumentSummary, BadStoredValue> {
    Ok(DocumentSummary {
        id: d.id,
        document_type: d.doc_type()?,
        status: d.doc_status()?,
        reasons: d.doc_reasons()?,
        created_at: d.created_at,
        processed_at: d.processed_at,
    })
}

/// The newest document of each type the user uploaded, in type order (one indexed read
/// per type, whatever the user's document count).
pub async fn latest_documents<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> Result<Vec<document::Model>, DbErr> {
    let mut docs = Vec::new();
    for t in DocumentType::ALL {
        if let Some(d) = document::Entity::find()
            .filter(document::Column::UserId.eq(user_id))
            .filter(document::Column::DocumentType.eq(t.as_str()))
            .order_by_desc(document::Column::CreatedAt)
            .order_by_desc(document::Column::Id)
            .one(db)
            .await?
        {
            docs.push(d);
        }
    }
    Ok(docs)
}

/// Computes the overview from the database. `role` is used when the user has no profile
/// yet (nothing uploaded); afterwards the profile's role counts.
pub async fn compute<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    role: Role,
) -> Result<KycOverview, DbErr> {
    let latest = latest_documents(db, user_id).await?;
    compute_with(db, user_id, role, &latest).await
}

/// [`compute`] from the user's [`latest_documents`], already read.
pub async fn compute_with<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    role: Role,
    latest: &[document::Model],
) -> Result<KycOverview, DbErr> {
    let profile = profile::Entity::find_by_id(user_id).one(db).await?;
    let (role, status) = match &profile {
        Some(p) => (p.profile_role()?, p.profile_status()?),
        None => (role, ProfileStatus::None),
    };
    let required = crate::domain::document_type::required_for(role).to_vec();
    let missing: Vec<DocumentType> = required
        .iter()
        .copied()
        .filter(|t| {
            !latest
                .iter()
                .any(|d| d.document_type == t.as_str() && d.status == "accepted")
        })
        .collect();
    let submission = match profile.as_ref().and_then(|p| p.submission_id) {
        Some(id) => submission::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let rejection_reason = submission
        .as_ref()
        .filter(|s| s.status == "rejected" && status == ProfileStatus::Rejected)
        .and_then(|s| s.reason.clone());
    Ok(KycOverview {
        user_id,
        status,
        version: profile.as_ref().map_or(0, |p| p.version),
        can_submit: missing.is_empty()
            && !required.is_empty()
            && matches!(status, ProfileStatus::Pending | ProfileStatus::Rejected),
        required_documents: required,
        documents: latest.iter().map(summary).collect::<Result<_, _>>()?,
        missing_documents: missing,
        submission_id: submission.map(|s| s.id),
        rejection_reason,
        updated_at: profile.map(|p| p.updated_at),
    })
}

/// The overview, never older than the last committed change: the cached copy is served
/// when its version is the profile's current one (a primary-key read of one integer),
/// otherwise it is recomputed and written through. This closes the few milliseconds
/// between a writer's commit and its cache write, in which a plain cache-aside read would
/// serve the previous state. Redis trouble falls back to the database.
pub async fn read(state: &AppState, user_id: Uuid, role: Role) -> Result<KycOverview, DbErr> {
    let key = state.keys.kyc_status(user_id);
    let (cached, current) = tokio::join!(
        state.redis.get::<Option<String>, _>(&key),
        current_version(&state.db, user_id)
    );
    let current = current?;
    match cached {
        Ok(Some(json)) => {
            if let Ok(view) = serde_json::from_str::<KycOverview>(&json)
                && view.version == current
            {
                return Ok(view);
            }
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "KYC status cache unreadable; reading the database."),
    }
    let view = compute(&state.db, user_id, role).await?;
    store(state, &view).await;
    Ok(view)
}

async fn current_version<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<i64, DbErr> {
    use sea_orm::QuerySelect;
    Ok(profile::Entity::find_by_id(user_id)
        .select_only()
        .column(profile::Column::Version)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0))
}

async fn store(state: &AppState, view: &KycOverview) {
    let Ok(json) = serde_json::to_vec(view) else {
        return;
    };
    let key = state.keys.kyc_status(view.user_id);
    if let Err(error) =
        service_kit::cache::put_if_newer(&state.redis, &key, view.version, json, ttl::KYC_STATUS)
            .await
    {
        // A stale entry would outlive this failure: remove it so the next read recomputes.
        tracing::warn!(%error, user_id = %view.user_id, "KYC status cache write failed.");
        let _: Result<i64, _> = state.redis.del(&key).await;
    }
}

/// After a committed change: `view`, computed inside the change's transaction (so it is
/// exactly the state that change produced, with its version), is written through and
/// published live. Failures here are logged, never returned: the change has happened.
pub async fn changed(state: &AppState, view: &KycOverview) {
    store(state, view).await;
    let channel = state.keys.kyc_status_channel(view.user_id);
    if let Err(error) = service_kit::pubsub::publish(&state.redis, &channel, view).await {
        tracing::warn!(%error, user_id = %view.user_id, "KYC status not published.");
    }
}

/// A submission entering or leaving review, live for admins on `admin:kyc`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReviewQueueChange {
    pub submission_id: Uuid,
    pub user_id: Uuid,
    /// `in_review`, `approved` or `rejected`
    pub status: String,
}

pub async fn publish_review_change(state: &AppState, change: &ReviewQueueChange) {
    let channel = state.keys.admin_kyc_channel();
    if let Err(error) = service_kit::pubsub::publish(&state.redis, &channel, change).await {
        tracing::warn!(%error, "Review-queue change not published.");
    }
}
