//! A user's own documents: upload and list.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use bytes::{Bytes, BytesMut};
use common::auth::Role;
use futures::TryStreamExt;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, TokenErrors};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::checks::{FileKind, image_dimensions};
use crate::domain::{DocumentStatus, DocumentType, KycError, ProfileStatus};
use crate::jobs::{self, KycJob, Priority};
use crate::state::AppState;
use crate::store::entity::document;
use crate::store::overview::{self, DocumentSummary};
use crate::store::profiles;

/// The upload form (`multipart/form-data`): these two parts and no other.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    pub document_type: DocumentType,
    /// A JPEG, PNG or PDF, recognised by its content (the name and declared type are
    /// ignored).
    #[schema(value_type = String, format = Binary, min_length = 1)]
    pub file: Vec<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadAccepted {
    pub document_id: Uuid,
    pub document_type: DocumentType,
    /// Always `queued`: the checks run in the background.
    pub status: DocumentStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    /// Every document the caller uploaded, newest first.
    pub documents: Vec<DocumentSummary>,
}

/// Multipart overhead allowed on top of the file size limit.
const FORM_OVERHEAD: usize = 64 * 1024;

/// Upload a KYC document. Checks run in the background; watch `GET /status` or the
/// `kyc:status:{userId}` channel.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Stored and queued for checks", body = UploadAccepted),
        TokenErrors,
        (status = 400, description = "Not a readable multipart form"),
        (status = 403, description = "Admins do not upload KYC documents"),
        (status = 409, description = "KYC is in review or approved"),
        (status = 413, description = "File over the size limit"),
        (status = 415, description = "Content is not JPEG, PNG or PDF"),
        (status = 422, description = "Missing or invalid field, document type not asked of this role, image too large"),
        (status = 429, description = "Too many uploads; see Retry-After"),
    )
)]
#[post("/documents")]
pub async fn upload(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Seller, Role::Investor])?;
    let max = state.config.max_upload_bytes;
    if content_length(&req).is_some_and(|len| len > max + FORM_OVERHEAD) {
        return Err(too_large(max));
    }
    let decision = state
        .limiter
        .check(
            "kyc-upload",
            &user.id.to_string(),
            state.config.uploads_per_user,
        )
        .await
        .map_err(ApiError::internal)?;
    if !decision.allowed {
        return Err(ApiError::TooManyRequests {
            detail: "too many uploads; try again later".into(),
            retry_after_secs: decision.retry_after.as_secs().max(1),
        });
    }

    let (document_type, file) = read_form(form, max).await?;
    let document_type: DocumentType = document_type
        .parse()
        .map_err(|e: String| ApiError::field("document_type", e))?;
    if !crate::domain::document_type::required_for(user.role).contains(&document_type) {
        return Err(ApiError::field(
            "document_type",
            format!("{}s do not provide {document_type}", user.role.as_str()),
        ));
    }
    let kind = FileKind::sniff(&file).ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "file: the content is not a JPEG, PNG or PDF (file names and declared types are not trusted)"
                .into(),
        )
    })?;
    if kind.is_image() {
        let (w, h) = image_dimensions(kind, &file)
            .map_err(|_| ApiError::field("file", "the image header cannot be read"))?;
        let pixels = u64::from(w) * u64::from(h);
        if pixels > state.config.max_pixels {
            return Err(ApiError::field(
                "file",
                format!(
                    "the image is {w}×{h} pixels; the limit is {} pixels",
                    state.config.max_pixels
                ),
            ));
        }
    }

    let profile = profiles::find(&state.db, user.id).await?;
    let previous = match &profile {
        Some(p) => p.profile_status()?,
        None => ProfileStatus::None,
    };
    if !previous.can_upload() {
        return Err(closed(previous));
    }
    let priority = if previous == ProfileStatus::Rejected {
        Priority::High
    } else {
        Priority::Low
    };

    let now = state.clock.now();
    let id = common::new_id_at(now);
    let storage_key = format!("documents/{}/{id}", user.id);
    let sha256 = hex::encode(Sha256::digest(&file));
    let size = i64::try_from(file.len()).unwrap_or(i64::MAX);
    state
        .storage
        .put(&storage_key, file)
        .await
        .map_err(ApiError::internal)?;

    let saved = async {
        let txn = service_kit::db::begin_write(&state.db).await?;
        if !profiles::record_upload(&*txn, user.id, user.role, now).await? {
            txn.rollback().await?;
            return Ok::<_, anyhow::Error>(None);
        }
        let doc = document::ActiveModel {
            id: Set(id),
            user_id: Set(user.id),
            document_type: Set(document_type.as_str().to_owned()),
            status: Set(DocumentStatus::Queued.as_str().to_owned()),
            content_type: Set(kind.mime().to_owned()),
            size_bytes: Set(size),
            sha256: Set(sha256),
            storage_key: Set(storage_key.clone()),
            priority: Set(priority.as_str().to_owned()),
            checks: Set(serde_json::json!([])),
            reasons: Set(serde_json::json!([])),
            flagged: Set(false),
            ocr_text: Set(None),
            ocr_confidence: Set(None),
            created_at: Set(now),
            enqueued_at: Set(now),
            processed_at: Set(None),
        }
        .insert(&*txn)
        .await?;
        let view = overview::compute(&*txn, user.id, user.role).await?;
        txn.commit().await?;
        Ok(Some((doc, view)))
    }
    .await;
    let (doc, view) = match saved {
        Ok(Some(saved)) => saved,
        other => {
            // Nothing stored for a refused or failed upload.
            if let Err(error) = state.storage.delete(&storage_key).await {
                tracing::warn!(%error, "Refused upload's file not deleted.");
            }
            return match other {
                Ok(_) => {
                    let now_status = match profiles::find(&state.db, user.id).await? {
                        Some(p) => p.profile_status()?,
                        None => ProfileStatus::None,
                    };
                    Err(closed(now_status))
                }
                Err(error) => Err(ApiError::internal(error)),
            };
        }
    };

    if let Err(error) = jobs::enqueue(&state, &KycJob::for_document(&doc)?).await {
        // The sweeper sends it later; the upload itself is safe.
        tracing::warn!(%error, document_id = %doc.id, "KYC job not enqueued yet.");
    }
    tracing::info!(document_id = %doc.id, user_id = %user.id, document_type = document_type.as_str(), "Document uploaded.");
    overview::changed(&state, &view).await;
    Ok(HttpResponse::Accepted().json(UploadAccepted {
        document_id: doc.id,
        document_type,
        status: DocumentStatus::Queued,
    }))
}

/// The caller's documents with their processing results.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Newest first", body = DocumentList),
        TokenErrors,
    )
)]
#[get("/documents")]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let docs = document::Entity::find()
        .filter(document::Column::UserId.eq(user.id))
        .order_by_desc(document::Column::CreatedAt)
        .order_by_desc(document::Column::Id)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(DocumentList {
        documents: docs
            .iter()
            .map(overview::summary)
            .collect::<Result<_, _>>()?,
    }))
}

fn closed(status: ProfileStatus) -> ApiError {
    match status {
        ProfileStatus::Approved => KycError::AlreadyApproved,
        _ => KycError::DocumentsLocked,
    }
    .into()
}

fn too_large(max: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("file: larger than the limit of {max} bytes"))
}

fn content_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn bad_form(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!(
        "the body is not a readable multipart/form-data form: {e}"
    ))
}

/// Reads `document_type` and `file`; the file is cut off (413) past `max` bytes.
async fn read_form(mut form: Multipart, max: usize) -> Result<(String, Bytes), ApiError> {
    let mut document_type = None;
    let mut file = None;
    while let Some(mut field) = form.try_next().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_owned();
        let limit = match name.as_str() {
            "document_type" if document_type.is_none() => 64,
            "file" if file.is_none() => max,
            "document_type" | "file" => {
                return Err(ApiError::field(&name, "given more than once"));
            }
            other => {
                return Err(ApiError::field(
                    other,
                    "unknown field (expected document_type and file)",
                ));
            }
        };
        let mut buf = BytesMut::new();
        while let Some(chunk) = field.try_next().await.map_err(bad_form)? {
            if buf.len() + chunk.len() > limit {
                return Err(if name == "file" {
                    too_large(max)
                } else {
                    ApiError::field(&name, "too long")
                });
            }
            buf.extend_from_slice(&chunk);
        }
        if name == "file" {
            file = Some(buf.freeze());
        } else {
            let text = String::from_utf8(buf.to_vec())
                .map_err(|_| ApiError::field("document_type", "must be text"))?;
            document_type = Some(text.trim().to_owned());
        }
    }
    let mut missing = Vec::new();
    if document_type.is_none() {
        missing.push(service_kit::http::FieldError {
            field: "document_type".into(),
            message: "required".into(),
        });
    }
    match file {
        Some(ref f) if f.is_empty() => missing.push(service_kit::http::FieldError {
            field: "file".into(),
            message: "the file is empty".into(),
        }),
        None => missing.push(service_kit::http::FieldError {
            field: "file".into(),
            message: "required".into(),
        }),
        _ => {}
    }
    match (document_type, file) {
        (Some(t), Some(f)) if missing.is_empty() => Ok((t, f)),
        _ => Err(ApiError::fields(missing)),
    }
}

/// One of the caller's documents with every check's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnDocument {
    #[serde(flatten)]
    pub summary: DocumentSummary,
    pub content_type: String,
    pub size_bytes: i64,
    pub checks: Vec<crate::domain::CheckResult>,
}

/// One of the caller's documents. Another user's document is a 404, as if it did not exist.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The document and its checks", body = OwnDocument),
        TokenErrors,
        (status = 404, description = "No such document of the caller's"),
    )
)]
#[get("/documents/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let doc = document::Entity::find_by_id(id)
        .filter(document::Column::UserId.eq(user.id))
        .one(&state.db)
        .await?
        .ok_or(KycError::NoDocument(id))?;
    Ok(HttpResponse::Ok().json(OwnDocument {
        summary: overview::summary(&doc)?,
        content_type: doc.content_type.clone(),
        size_bytes: doc.size_bytes,
        checks: doc.doc_checks()?,
    }))
}
