//! Admin review: the queue, a submission with its documents and checks, downloads
//! (recorded), approve and reject.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use service_kit::auth::{AuthUser, RequireRole};
use service_kit::http::version::{IfMatch, etag};
use service_kit::http::{ApiError, JsonBodyErrors, TokenErrors, VersionErrors};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::checks::FileKind;
use crate::domain::{
    CheckResult, DocumentStatus, DocumentType, KycError, ProfileStatus, SubmissionStatus,
};
use crate::outbound;
use crate::state::AppState;
use crate::store::crypto::mask;
use crate::store::entity::{document, download, submission};
use crate::store::overview::{self, ReviewQueueChange};
use crate::store::profiles;
use common::enums::{BadStoredValue, stored};
use common::events::KycEvent;
use common::events::kyc::{DocumentDownloaded, KycDecided};
use common::ids::{DocumentId, SubmissionId, UserId};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Default `in_review`.
    pub status: Option<SubmissionStatus>,
    /// 1..=100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// Continue after this submission id (`next_after` of the previous page).
    pub after: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionSummary {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub status: SubmissionStatus,
    pub full_name: String,
    /// How many things the reviewer should look at.
    pub warnings: usize,
    pub created_at: DateTime<Utc>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionPage {
    /// Oldest first: the review queue's order.
    pub items: Vec<SubmissionSummary>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDetail {
    pub id: Uuid,
    pub document_type: DocumentType,
    pub status: DocumentStatus,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub checks: Vec<CheckResult>,
    pub reasons: Vec<String>,
    /// The same file is on file for another account.
    pub flagged: bool,
    pub ocr_text: Option<String>,
    pub ocr_confidence: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    /// Where to download it (recorded).
    pub download_path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionDetail {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub status: SubmissionStatus,
    pub full_name: String,
    /// Last four digits only.
    pub bvn: Option<String>,
    pub nin: Option<String>,
    /// Identity provider and name checks.
    pub checks: Vec<CheckResult>,
    pub warnings: Vec<String>,
    pub reason: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub documents: Vec<DocumentDetail>,
    /// Bumped by every change; also the `ETag`. Approve and reject name the version they
    /// were made on in `If-Match`.
    #[schema(minimum = 1, example = 1)]
    pub version: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the user.
    #[schema(
        min_length = 3,
        max_length = 1000,
        pattern = r"\S",
        example = "The proof of address is older than three months."
    )]
    pub reason: String,
}

fn summary(s: &submission::Model) -> Result<SubmissionSummary, BadStoredValue> {
    Ok(SubmissionSummary {
        id: s.id,
        user_id: s.user_id,
        role: s.role.clone(),
        status: stored("kyc_submissions", s.id, "status", &s.status)?,
        full_name: s.full_name.clone(),
        warnings: s.warnings.as_array().map_or(0, Vec::len),
        created_at: s.created_at,
        reviewed_at: s.reviewed_at,
    })
}

/// Submissions by status, oldest first.
#[utoipa::path(
    tag = "review",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of submissions", body = SubmissionPage),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 422, description = "Unknown status, limit out of range or a malformed parameter"),
    )
)]
#[get("/submissions")]
pub async fn list(
    state: web::Data<AppState>,
    admin: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&admin)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 100"));
    }
    let status = query.status.unwrap_or(SubmissionStatus::InReview);
    let mut select = submission::Entity::find()
        .filter(submission::Column::Status.eq(status.as_str()))
        .order_by_asc(submission::Column::Id)
        .limit(limit + 1);
    if let Some(after) = query.after {
        select = select.filter(submission::Column::Id.gt(after));
    }
    let mut rows = select.all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(100));
    Ok(HttpResponse::Ok().json(SubmissionPage {
        next_after: if more {
            rows.last().map(|s| s.id)
        } else {
            None
        },
        items: rows.iter().map(summary).collect::<Result<_, _>>()?,
    }))
}

async fn find_submission(state: &AppState, id: Uuid) -> Result<submission::Model, ApiError> {
    submission::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| KycError::NoSubmission(id).into())
}

/// A submission with its documents, every check and the reviewer's warnings.
#[utoipa::path(
    tag = "review",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Submission id")),
    responses(
        (status = 200, description = "The submission (its version also as `ETag`)", body = SubmissionDetail),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such submission"),
    )
)]
#[get("/submissions/{id}")]
pub async fn detail(
    state: web::Data<AppState>,
    admin: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&admin)?;
    let s = find_submission(&state, *id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::ETAG, etag(s.version)))
        .json(detail_of(&state, &s).await?))
}

async fn detail_of(state: &AppState, s: &submission::Model) -> Result<SubmissionDetail, ApiError> {
    let ids = s.document_ids()?;
    let docs = document::Entity::find()
        .filter(document::Column::Id.is_in(ids.clone()))
        .all(&state.db)
        .await?;
    let reveal = |c: &Option<String>| {
        c.as_deref().map(|c| match state.cipher.decrypt(c) {
            Ok(plain) => mask(secrecy::ExposeSecret::expose_secret(&plain)),
            Err(_) => "unreadable".to_owned(),
        })
    };
    Ok(SubmissionDetail {
        id: s.id,
        user_id: s.user_id,
        role: s.role.clone(),
        status: stored("kyc_submissions", s.id, "status", &s.status)?,
        full_name: s.full_name.clone(),
        bvn: reveal(&s.bvn_cipher),
        nin: reveal(&s.nin_cipher),
        checks: s.submission_checks()?,
        warnings: s.submission_warnings()?,
        reason: s.reason.clone(),
        reviewed_by: s.reviewed_by,
        reviewed_at: s.reviewed_at,
        created_at: s.created_at,
        version: s.version,
        documents: ids
            .iter()
            .filter_map(|id| docs.iter().find(|d| d.id == *id))
            .map(|d| -> Result<DocumentDetail, BadStoredValue> {
                Ok(DocumentDetail {
                    id: d.id,
                    document_type: d.doc_type()?,
                    status: d.doc_status()?,
                    content_type: d.content_type.clone(),
                    size_bytes: d.size_bytes,
                    sha256: d.sha256.clone(),
                    checks: d.doc_checks()?,
                    reasons: d.doc_reasons()?,
                    flagged: d.flagged,
                    ocr_text: d.ocr_text.clone(),
                    ocr_confidence: d.ocr_confidence,
                    created_at: d.created_at,
                    processed_at: d.processed_at,
                    download_path: format!("/api/kyc/submissions/{}/documents/{}/file", s.id, d.id),
                })
            })
            .collect::<Result<_, _>>()?,
    })
}

/// Download a document of a submission, as an attachment. Every download is recorded.
#[utoipa::path(
    tag = "review",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Submission id"),
        ("document_id" = Uuid, Path, description = "Document id"),
    ),
    responses(
        (status = 200, description = "The file (Content-Disposition: attachment; X-Content-Type-Options: nosniff)",
         content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "application/pdf"))),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such submission, or the document is not part of it"),
    )
)]
#[get("/submissions/{id}/documents/{document_id}/file")]
pub async fn download_file(
    state: web::Data<AppState>,
    admin: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&admin)?;
    let (id, document_id) = path.into_inner();
    let s = find_submission(&state, id).await?;
    let not_part = || KycError::NotPartOf {
        document: document_id,
        submission: id,
    };
    if !s.document_ids()?.contains(&document_id) {
        return Err(not_part().into());
    }
    let d = document::Entity::find_by_id(document_id)
        .one(&state.db)
        .await?
        .ok_or_else(not_part)?;
    let bytes = state.storage.get(&d.storage_key).await.map_err(|e| {
        if crate::store::storage::is_not_found(&e) {
            KycError::FileGone(document_id).into()
        } else {
            ApiError::internal(e)
        }
    })?;
    let kind = FileKind::sniff(&bytes);
    let now = state.clock.now();
    // The download and its event (admin audits reads of personal data) commit together.
    let event = outbound::envelope(
        &state,
        KycEvent::DocumentDownloaded(DocumentDownloaded {
            user_id: UserId(s.user_id),
            submission_id: SubmissionId(id),
            document_id: DocumentId(document_id),
            document_type: d.doc_type().map_err(ApiError::internal)?,
            downloaded_by: UserId(admin.id),
        }),
    )?;
    let txn = service_kit::db::begin_write(&state.db).await?;
    download::ActiveModel {
        id: Set(common::new_id_at(now)),
        document_id: Set(document_id),
        submission_id: Set(id),
        admin_id: Set(admin.id),
        downloaded_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    service_kit::outbox::add(&*txn, &event).await?;
    txn.commit().await?;
    state.relay.wake();
    tracing::info!(%document_id, submission_id = %id, admin_id = %admin.id, "KYC document downloaded.");
    let filename = format!(
        "{}-{document_id}.{}",
        d.document_type,
        kind.map_or("bin", FileKind::extension)
    );
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            kind.map_or("application/octet-stream", FileKind::mime),
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .body(bytes))
}

/// Approve what you reviewed (`If-Match`: the submission's ETag): the user's next access
/// token (after a refresh) says `kyc: approved`.
#[utoipa::path(
    tag = "review",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Submission id"), ("If-Match" = String, Header, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "The submission's ETag as you read it, e.g. \"1\": the decision applies to that version or not at all (412)")),
    responses(
        (status = 200, description = "Approved", body = SubmissionDetail),
        TokenErrors,
        VersionErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such submission"),
        (status = 409, description = "Already decided"),
    )
)]
#[post("/submissions/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    admin: AuthUser,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&admin)?;
    let decision = Decision {
        to: SubmissionStatus::Approved,
        reason: None,
        if_match,
    };
    decide(&state, &admin, *id, decision).await
}

/// Reject what you reviewed (`If-Match`) with a reason the user reads; they can upload
/// again and resubmit.
#[utoipa::path(
    tag = "review",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Submission id"), ("If-Match" = String, Header, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "The submission's ETag as you read it, e.g. \"1\": the decision applies to that version or not at all (412)")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "Rejected", body = SubmissionDetail),
        TokenErrors,
        JsonBodyErrors,
        VersionErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such submission"),
        (status = 409, description = "Already decided"),
    )
)]
#[post("/submissions/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    admin: AuthUser,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: web::Json<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&admin)?;
    let reason = ApiError::text_between("reason", &body.reason, 3, 1000)?.to_owned();
    let decision = Decision {
        to: SubmissionStatus::Rejected,
        reason: Some(reason),
        if_match,
    };
    decide(&state, &admin, *id, decision).await
}

/// An admin's decision: the status, the reason, and the version it was made on.
struct Decision {
    to: SubmissionStatus,
    reason: Option<String>,
    if_match: IfMatch,
}

/// Why a decision on version `seen` of `s` cannot be applied: it was already decided
/// (409), or it changed since (412, with the submission as it is now).
async fn refusal(state: &AppState, s: &submission::Model, seen: i64) -> Result<KycError, ApiError> {
    let status: SubmissionStatus =
        common::enums::stored("kyc_submissions", s.id, "status", &s.status)?;
    if status != SubmissionStatus::InReview {
        return Ok(KycError::AlreadyDecided { id: s.id, status });
    }
    let current = serde_json::to_value(detail_of(state, s).await?).map_err(ApiError::internal)?;
    Ok(KycError::Stale {
        seen,
        version: s.version,
        current: Box::new(current),
    })
}

async fn decide(
    state: &AppState,
    admin: &AuthUser,
    id: Uuid,
    decision: Decision,
) -> Result<HttpResponse, ApiError> {
    let Decision {
        to,
        reason,
        if_match,
    } = decision;
    let s = find_submission(state, id).await?;
    let seen = if_match.required()?;
    if s.version != seen || s.status != SubmissionStatus::InReview.as_str() {
        return Err(refusal(state, &s, seen).await?.into());
    }
    let now = state.clock.now();
    let txn = service_kit::db::begin_write(&state.db).await?;
    let moved = submission::Entity::update_many()
        .col_expr(submission::Column::Status, Expr::value(to.as_str()))
        .col_expr(submission::Column::Reason, Expr::value(reason.clone()))
        .col_expr(submission::Column::ReviewedBy, Expr::value(Some(admin.id)))
        .col_expr(submission::Column::ReviewedAt, Expr::value(Some(now)))
        .col_expr(
            submission::Column::Version,
            Expr::col(submission::Column::Version).add(1),
        )
        .filter(submission::Column::Id.eq(id))
        .filter(submission::Column::Status.eq(SubmissionStatus::InReview.as_str()))
        .filter(submission::Column::Version.eq(seen))
        .exec(&*txn)
        .await?;
    if moved.rows_affected == 0 {
        txn.rollback().await?;
        let now = find_submission(state, id).await?;
        return Err(refusal(state, &now, seen).await?.into());
    }
    let profile_to = match to {
        SubmissionStatus::Approved => ProfileStatus::Approved,
        _ => ProfileStatus::Rejected,
    };
    profiles::transition(
        &*txn,
        s.user_id,
        &[ProfileStatus::InReview],
        profile_to,
        id,
        None,
        now,
    )
    .await?;
    let decided = KycDecided {
        user_id: UserId(s.user_id),
        submission_id: SubmissionId(id),
        reviewed_by: UserId(admin.id),
        reason,
    };
    let event = outbound::envelope(
        state,
        match to {
            SubmissionStatus::Approved => KycEvent::Approved(decided),
            _ => KycEvent::Rejected(decided),
        },
    )?;
    service_kit::outbox::add(&*txn, &event).await?;
    let view = overview::compute(&*txn, s.user_id, common::auth::Role::Investor).await?;
    txn.commit().await?;
    state.relay.wake();
    tracing::info!(submission_id = %id, user_id = %s.user_id, admin_id = %admin.id, status = to.as_str(), "KYC decided.");
    overview::changed(state, &view).await;
    overview::publish_review_change(
        state,
        &ReviewQueueChange {
            submission_id: id,
            user_id: s.user_id,
            status: to.as_str().to_owned(),
        },
    )
    .await;
    let updated = find_submission(state, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(updated.version)))
        .json(detail_of(state, &updated).await?))
}
