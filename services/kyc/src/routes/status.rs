//! The caller's KYC status and submission.

use actix_web::{HttpResponse, get, post, web};
use common::auth::Role;
use sea_orm::{ActiveModelTrait, Set};
use serde::{Deserialize, Serialize};
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, FieldError, JsonBodyErrors, TokenErrors};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::checks::name_matches;
use crate::domain::{
    CheckResult, DocumentStatus, DocumentType, IdentityNumber, KycError, ProfileStatus,
    SubmissionStatus,
};
use crate::identity::{IdNumberKind, IdentityCheckOutcome, IdentityCheckRequest};
use crate::outbound;
use crate::state::AppState;
use crate::store::entity::{document, submission};
use crate::store::overview::{self, KycOverview, ReviewQueueChange};
use crate::store::profiles;
use common::events::KycEvent;
use common::events::kyc::KycSubmitted;
use common::ids::{SubmissionId, UserId};

/// The caller's KYC: status, documents, what is missing. Served from `kyc:{userId}`,
/// which every change rewrites.
#[utoipa::path(
    tag = "status",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's KYC", body = KycOverview),
        TokenErrors,
    )
)]
#[get("/status")]
pub async fn status(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let view = overview::read(&state, user.id, user.role).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// The declared identity sent for review. At least one of `bvn` and `nin`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The legal name as on the government ID: 2 to 200 characters with at least two
    /// besides spaces, no control characters (runs of spaces count as one).
    #[schema(
        min_length = 2,
        max_length = 200,
        example = "Adaeze Okafor",
        pattern = r"^(?=[\s\S]*[^ ][\s\S]*[^ ])[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub full_name: String,
    /// Bank Verification Number: 11 digits. Encrypted at rest, never shown whole again.
    #[schema(pattern = "^[0-9]{11}$", example = "22212345678")]
    pub bvn: Option<String>,
    /// National Identification Number: 11 digits. Encrypted at rest.
    #[schema(pattern = "^[0-9]{11}$", example = "12345678901")]
    pub nin: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionReceipt {
    pub submission_id: Uuid,
    pub status: SubmissionStatus,
}

struct Declared {
    full_name: String,
    numbers: Vec<IdentityNumber>,
}

fn parse_submit(body: SubmitRequest) -> Result<Declared, ApiError> {
    let mut errors = Vec::new();
    // As sent: 2 to 200 characters, no control character; kept with runs of spaces made
    // one, which must leave two characters at least.
    let raw = &body.full_name;
    let full_name = raw
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !(2..=200).contains(&raw.chars().count()) || full_name.chars().count() < 2 {
        errors.push(FieldError {
            field: "full_name".into(),
            message: "must be 2 to 200 characters".into(),
        });
    } else if raw.chars().any(char::is_control) {
        errors.push(FieldError {
            field: "full_name".into(),
            message: "must not contain control characters".into(),
        });
    }
    let mut numbers = Vec::new();
    for (field, kind, value) in [
        ("bvn", IdNumberKind::Bvn, &body.bvn),
        ("nin", IdNumberKind::Nin, &body.nin),
    ] {
        if let Some(raw) = value {
            match IdentityNumber::parse(kind, raw) {
                Ok(n) => numbers.push(n),
                Err(message) => errors.push(FieldError {
                    field: field.into(),
                    message,
                }),
            }
        }
    }
    if body.bvn.is_none() && body.nin.is_none() {
        errors.push(FieldError {
            field: "bvn".into(),
            message: "give a BVN or a NIN (or both)".into(),
        });
    }
    if errors.is_empty() {
        Ok(Declared { full_name, numbers })
    } else {
        Err(ApiError::fields(errors))
    }
}

/// Send the accepted documents and the declared identity for review.
#[utoipa::path(
    tag = "status",
    security(("bearer" = [])),
    request_body = SubmitRequest,
    responses(
        (status = 201, description = "In review", body = SubmissionReceipt),
        TokenErrors,
        JsonBodyErrors,
        (status = 403, description = "Admins do not submit KYC"),
        (status = 409, description = "Documents missing, rejected or still being checked; or already in review or approved"),
    )
)]
#[post("/submit")]
pub async fn submit(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<SubmitRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Seller, Role::Investor])?;
    let declared = parse_submit(body.into_inner())?;
    let docs = overview::latest_documents(&state.db, user.id).await?;
    let view = overview::compute_with(&state.db, user.id, user.role, &docs).await?;
    match view.status {
        ProfileStatus::InReview => return Err(KycError::AlreadySubmitted.into()),
        ProfileStatus::Approved => return Err(KycError::AlreadyApproved.into()),
        _ => {}
    }
    if !view.missing_documents.is_empty() {
        let describe =
            |t: &DocumentType| match view.documents.iter().find(|d| d.document_type == *t) {
                Some(d) if d.status == DocumentStatus::Queued => {
                    format!("{t} (still being checked)")
                }
                Some(d) if d.status == DocumentStatus::Rejected => {
                    format!("{t} (rejected: upload it again)")
                }
                _ => format!("{t} (not uploaded)"),
            };
        let list = view.missing_documents.iter().map(describe).collect();
        return Err(KycError::MissingDocuments(list).into());
    }

    let (checks, warnings) = review_notes(&state, &declared, &docs).await;

    let now = state.clock.now();
    let id = common::new_id_at(now);
    let cipher = &state.cipher;
    let cipher_of = |kind: IdNumberKind| {
        declared
            .numbers
            .iter()
            .find(|n| n.kind() == kind)
            .map(|n| cipher.encrypt(n.digits()))
    };
    let txn = service_kit::db::begin_write(&state.db).await?;
    submission::ActiveModel {
        id: Set(id),
        user_id: Set(user.id),
        role: Set(user.role.as_str().to_owned()),
        status: Set(SubmissionStatus::InReview.as_str().to_owned()),
        full_name: Set(declared.full_name.clone()),
        bvn_cipher: Set(cipher_of(IdNumberKind::Bvn)),
        nin_cipher: Set(cipher_of(IdNumberKind::Nin)),
        document_ids: Set(
            serde_json::to_value(docs.iter().map(|d| d.id).collect::<Vec<_>>())
                .map_err(ApiError::internal)?,
        ),
        checks: Set(serde_json::to_value(&checks).map_err(ApiError::internal)?),
        warnings: Set(serde_json::to_value(&warnings).map_err(ApiError::internal)?),
        reason: Set(None),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        created_at: Set(now),
        version: Set(1),
    }
    .insert(&*txn)
    .await?;
    let moved = profiles::transition(
        &*txn,
        user.id,
        &[ProfileStatus::Pending, ProfileStatus::Rejected],
        ProfileStatus::InReview,
        id,
        Some(view.version),
        now,
    )
    .await?;
    if !moved {
        txn.rollback().await?;
        return Err(KycError::ChangedWhileSubmitting.into());
    }
    let event = outbound::envelope(
        &state,
        KycEvent::Submitted(KycSubmitted {
            user_id: UserId(user.id),
            submission_id: SubmissionId(id),
            role: user.role,
        }),
    )?;
    service_kit::outbox::add(&*txn, &event).await?;
    let view = overview::compute(&*txn, user.id, user.role).await?;
    txn.commit().await?;
    state.relay.wake();
    tracing::info!(submission_id = %id, user_id = %user.id, "KYC submitted for review.");
    overview::changed(&state, &view).await;
    overview::publish_review_change(
        &state,
        &ReviewQueueChange {
            submission_id: id,
            user_id: user.id,
            status: SubmissionStatus::InReview.as_str().to_owned(),
        },
    )
    .await;
    Ok(HttpResponse::Created().json(SubmissionReceipt {
        submission_id: id,
        status: SubmissionStatus::InReview,
    }))
}

/// Identity-provider results and what the reviewer should look at. Nothing here rejects.
async fn review_notes(
    state: &AppState,
    declared: &Declared,
    docs: &[document::Model],
) -> (Vec<CheckResult>, Vec<String>) {
    let mut checks = Vec::new();
    let mut warnings = Vec::new();
    for number in &declared.numbers {
        let (check, label) = match number.kind() {
            IdNumberKind::Bvn => ("identity_bvn", "BVN"),
            IdNumberKind::Nin => ("identity_nin", "NIN"),
        };
        let request = IdentityCheckRequest {
            kind: number.kind(),
            number: number.digits().to_owned(),
            full_name: declared.full_name.clone(),
        };
        let result = match state.verifier.verify(&request).await {
            Ok(IdentityCheckOutcome::Verified) => {
                CheckResult::passed(check, format!("the {label} matches the declared name"))
            }
            Ok(IdentityCheckOutcome::NotFound) => {
                CheckResult::warning(check, format!("the provider has no record of this {label}"))
            }
            Ok(IdentityCheckOutcome::NameMismatch { name_on_record }) => CheckResult::warning(
                check,
                format!("the {label} belongs to \"{name_on_record}\", not the declared name"),
            ),
            Err(error) => {
                tracing::warn!(%error, check, "Identity provider unavailable.");
                CheckResult::skipped(check, format!("the {label} could not be verified now"))
            }
        };
        if result.outcome != crate::domain::CheckOutcome::Passed {
            warnings.push(result.detail.clone());
        }
        checks.push(result);
    }
    if let Some(id_doc) = docs
        .iter()
        .find(|d| d.document_type == DocumentType::GovernmentId.as_str())
    {
        match &id_doc.ocr_text {
            Some(text) if name_matches(&declared.full_name, text) => {
                checks.push(CheckResult::passed(
                    "name_match",
                    "the declared name appears on the government ID",
                ))
            }
            Some(_) => {
                let r = CheckResult::warning(
                    "name_match",
                    "the declared name was not found in the text read from the government ID",
                );
                warnings.push(r.detail.clone());
                checks.push(r);
            }
            None => checks.push(CheckResult::skipped(
                "name_match",
                "no text was read from the government ID",
            )),
        }
    }
    for d in docs.iter().filter(|d| d.flagged) {
        warnings.push(format!(
            "the {} file was also uploaded by another account",
            d.document_type
        ));
    }
    (checks, warnings)
}
