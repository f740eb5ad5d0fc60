//! The document worker: takes `kyc:processing` jobs (high list first), runs the checks and
//! writes the result once. A job redelivered after a crash finds the document already
//! decided (or decides it, if the crash came first): the conditional update
//! `WHERE status = 'queued'` lets exactly one result and one event through.

use bytes::Bytes;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use service_kit::queue::{Job, Worker, handler_fn};
use service_kit::shutdown::CancellationToken;
use sha2::{Digest, Sha256};

use crate::checks::{self, ClamdClient, FileKind, OcrReader, ScanVerdict};
use crate::domain::{CheckOutcome, CheckResult, DocumentStatus};
use crate::jobs::KycJob;
use crate::outbound;
use crate::state::AppState;
use crate::store::entity::document;
use crate::store::{overview, profiles};
use common::events::KycEvent;
use common::events::kyc::DocumentProcessed;
use common::ids::{DocumentId, UserId};

/// What the checks found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub checks: Vec<CheckResult>,
    pub flagged: bool,
    pub ocr: Option<checks::OcrResult>,
}

impl Verdict {
    pub fn status(&self) -> DocumentStatus {
        if self
            .checks
            .iter()
            .any(|c| c.outcome == CheckOutcome::Failed)
        {
            DocumentStatus::Rejected
        } else {
            DocumentStatus::Accepted
        }
    }

    pub fn reasons(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.outcome == CheckOutcome::Failed)
            .map(|c| c.detail.clone())
            .collect()
    }
}

/// Document worker number `n` (of `KYC_WORKERS`) on the processing queues until `stop`
/// (the supervised task `worker-{n}`). Fails if it cannot connect or register.
pub async fn run(state: AppState, n: usize, stop: CancellationToken) -> anyhow::Result<()> {
    let mut config = state.config.worker.clone();
    if state.config.workers > 1 {
        config.worker_id = format!("{}-{n}", config.worker_id);
    }
    let worker = Worker::connect(
        &state.config.base.redis_url,
        &state.redis,
        crate::jobs::queues(&state),
        config,
    )
    .await?;
    let st = state.clone();
    let handler = handler_fn(move |job: Job| {
        let st = st.clone();
        async move { handle(&st, &job).await }
    });
    worker.run(handler, stop).await?;
    Ok(())
}

/// Processes one job. An error means "try again later" (the queue retries with backoff).
pub async fn handle(state: &AppState, job: &Job) -> anyhow::Result<()> {
    let kyc: KycJob = match job.payload_as() {
        Ok(kyc) => kyc,
        Err(error) => {
            // It would fail the same way every time.
            tracing::error!(%error, job_id = %job.id, "Unreadable KYC job dropped.");
            return Ok(());
        }
    };
    let Some(doc) = document::Entity::find_by_id(kyc.document_id)
        .one(&state.db)
        .await?
    else {
        tracing::warn!(document_id = %kyc.document_id, "KYC job for an unknown document dropped.");
        return Ok(());
    };
    if doc.status != DocumentStatus::Queued.as_str() {
        tracing::info!(document_id = %doc.id, "Document already processed; redelivery ignored.");
        return Ok(());
    }
    let verdict = match state.storage.get(&doc.storage_key).await {
        Ok(bytes) => run_checks(state, &doc, bytes).await?,
        Err(error) if crate::store::storage::is_not_found(&error) => Verdict {
            checks: vec![CheckResult::failed(
                "file_type",
                "the uploaded file could not be found; please upload it again",
            )],
            flagged: false,
            ocr: None,
        },
        Err(error) => return Err(error),
    };
    record(state, &doc, &verdict).await
}

/// Every check on one document's bytes.
pub async fn run_checks(
    state: &AppState,
    doc: &document::Model,
    bytes: Bytes,
) -> anyhow::Result<Verdict> {
    let mut results = Vec::new();
    let kind = FileKind::sniff(&bytes).filter(|k| k.mime() == doc.content_type);
    results.push(match kind {
        Some(k) => CheckResult::passed("file_type", format!("the file is {}", k.mime())),
        None => CheckResult::failed("file_type", "the file is not a JPEG, PNG or PDF"),
    });

    let digest = hex::encode(Sha256::digest(&bytes));
    results.push(if digest == doc.sha256 {
        CheckResult::passed("checksum", format!("sha256 {digest}"))
    } else {
        CheckResult::failed(
            "checksum",
            "the stored file does not match what was uploaded; please upload it again",
        )
    });

    let mut intact = false;
    if let Some(kind) = kind {
        let max_pixels = state.config.max_pixels;
        let data = bytes.clone();
        let checked =
            tokio::task::spawn_blocking(move || checks::check_integrity(kind, &data, max_pixels))
                .await?;
        results.push(match checked {
            Ok(()) => {
                intact = true;
                CheckResult::passed("integrity", "the file opens correctly")
            }
            Err(reason) => CheckResult::failed("integrity", reason),
        });
    } else {
        results.push(CheckResult::skipped(
            "integrity",
            "not a supported file type",
        ));
    }

    let other_owner = document::Entity::find()
        .select_only()
        .column(document::Column::Id)
        .filter(document::Column::Sha256.eq(&doc.sha256))
        .filter(document::Column::UserId.ne(doc.user_id))
        .limit(1)
        .into_tuple::<uuid::Uuid>()
        .one(&state.db)
        .await?;
    let flagged = other_owner.is_some();
    results.push(if flagged {
        CheckResult::warning(
            "duplicate",
            "the same file was uploaded by another account; the reviewer will look at it",
        )
    } else {
        CheckResult::passed("duplicate", "no other account uploaded this file")
    });

    results.push(match &state.config.clamd_addr {
        Some(addr) => {
            let client = ClamdClient::new(addr.clone(), state.config.clamd_timeout);
            match client.scan(&bytes).await? {
                ScanVerdict::Clean => CheckResult::passed("virus_scan", "no threat found"),
                ScanVerdict::Infected(signature) => CheckResult::failed(
                    "virus_scan",
                    format!("the file contains malware ({signature}) and was refused"),
                ),
            }
        }
        None => CheckResult::skipped("virus_scan", "virus scanning is not configured"),
    });

    let mut ocr = None;
    results.push(match (&state.config.ocr_command, kind) {
        (None, _) => CheckResult::skipped("ocr", "text recognition is not configured"),
        (Some(_), Some(FileKind::Pdf)) => {
            CheckResult::skipped("ocr", "text recognition reads images only")
        }
        (Some(_), _) if !intact => CheckResult::skipped("ocr", "the file could not be opened"),
        (Some(command), Some(kind)) => {
            let reader = OcrReader::new(command.clone(), state.config.ocr_timeout);
            match reader.read(kind, &bytes).await {
                Ok(result) => {
                    let detail = format!(
                        "read {} words, mean confidence {:.0}%",
                        result.text.split_whitespace().count(),
                        result.confidence
                    );
                    ocr = Some(result);
                    CheckResult::passed("ocr", detail)
                }
                Err(error) => {
                    tracing::warn!(%error, document_id = %doc.id, "OCR failed.");
                    CheckResult::warning("ocr", "text recognition failed on this file")
                }
            }
        }
        (Some(_), None) => CheckResult::skipped("ocr", "not a supported file type"),
    });

    Ok(Verdict {
        checks: results,
        flagged,
        ocr,
    })
}

/// Writes the verdict once (and its event, and the new profile version) in one
/// transaction; a second writer finds the document no longer queued and does nothing.
pub async fn record(
    state: &AppState,
    doc: &document::Model,
    verdict: &Verdict,
) -> anyhow::Result<()> {
    let now = state.clock.now();
    let status = verdict.status();
    let reasons = verdict.reasons();
    let txn = service_kit::db::begin_write(&state.db).await?;
    let written = document::Entity::update_many()
        .col_expr(document::Column::Status, Expr::value(status.as_str()))
        .col_expr(
            document::Column::Checks,
            Expr::value(serde_json::to_value(&verdict.checks)?),
        )
        .col_expr(
            document::Column::Reasons,
            Expr::value(serde_json::to_value(&reasons)?),
        )
        .col_expr(document::Column::Flagged, Expr::value(verdict.flagged))
        .col_expr(
            document::Column::OcrText,
            Expr::value(verdict.ocr.as_ref().map(|o| o.text.clone())),
        )
        .col_expr(
            document::Column::OcrConfidence,
            Expr::value(verdict.ocr.as_ref().map(|o| o.confidence)),
        )
        .col_expr(document::Column::ProcessedAt, Expr::value(Some(now)))
        .filter(document::Column::Id.eq(doc.id))
        .filter(document::Column::Status.eq(DocumentStatus::Queued.as_str()))
        .exec(&*txn)
        .await?;
    if written.rows_affected == 0 {
        txn.rollback().await?;
        tracing::info!(document_id = %doc.id, "Document decided meanwhile; result not written again.");
        return Ok(());
    }
    profiles::bump(&*txn, doc.user_id, now).await?;
    let event = outbound::envelope(
        state,
        KycEvent::DocumentProcessed(DocumentProcessed {
            user_id: UserId(doc.user_id),
            document_id: DocumentId(doc.id),
            document_type: doc.doc_type()?,
            status,
            reasons,
        }),
    )?;
    service_kit::outbox::add(&*txn, &event).await?;
    let view = overview::compute(&*txn, doc.user_id, common::auth::Role::Investor).await?;
    txn.commit().await?;
    state.relay.wake();
    tracing::info!(document_id = %doc.id, user_id = %doc.user_id, status = status.as_str(), "Document processed.");
    overview::changed(state, &view).await;
    Ok(())
}
