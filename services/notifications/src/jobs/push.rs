//! Push to users' devices: after a notification commits, one job per (notification,
//! device) goes on `push:queue`; a worker on the common reliable queue sends each through
//! a [`Provider`]. A token the provider calls invalid removes the device; a failure is
//! retried with backoff and dead-lettered after `PUSH_MAX_ATTEMPTS`; a refusal that
//! retrying cannot fix is logged and dropped.
//!
//! Providers: [`LogProvider`] (the default: logs, sends nothing) and [`HttpProvider`], an
//! FCM-style JSON POST (`{"message": {"token", "notification": {title, body}, "data"}}`,
//! bearer token) for FCM's HTTP v1 API or any gateway speaking it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::KeysInterface;
use sea_orm::EntityTrait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use service_kit::queue::{Job, JobHandler, WorkerConfig};
use service_kit::shutdown::CancellationToken;
use uuid::Uuid;

use crate::config::PushProvider;
use crate::state::AppState;
use crate::store::entity::{device, notification};

/// A `push:queue` job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PushJob {
    pub notification_id: Uuid,
    pub device_id: Uuid,
}

/// One message to one device.
#[derive(Debug, Clone)]
pub struct Push {
    pub token: String,
    pub platform: String,
    pub title: String,
    pub body: String,
    /// String values only (what FCM's `data` takes).
    pub data: HashMap<String, String>,
}

/// What a provider made of a push.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The device token is unknown or expired (`UNREGISTERED`): forget the device. A 400
    /// `INVALID_ARGUMENT` is not this: FCM also says it of a payload too large.
    #[error("device token rejected: {0}")]
    InvalidToken(String),
    /// Worth retrying (timeouts, 429, 5xx).
    #[error("push failed, will retry: {0}")]
    Retry(String),
    /// The provider refused for a reason retrying cannot fix (bad request, auth).
    #[error("push refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    async fn send(&self, push: &Push) -> Result<(), PushError>;
}

/// What may be shown of a device token: its last 6 characters, and never more than half
/// of it (tokens are credentials; a short one's "tail" would otherwise be all of it).
pub fn token_tail(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    let shown = (chars.len() / 2).min(6);
    chars[chars.len() - shown..].iter().collect()
}

/// Logs each push and sends nothing.
pub struct LogProvider;

#[async_trait]
impl Provider for LogProvider {
    async fn send(&self, push: &Push) -> Result<(), PushError> {
        tracing::info!(
            platform = push.platform,
            token_tail = token_tail(&push.token),
            title = push.title,
            "Push (log provider)."
        );
        Ok(())
    }
}

/// An FCM-style HTTP push endpoint.
pub struct HttpProvider {
    client: reqwest::Client,
    url: String,
    token: Option<SecretString>,
}

impl HttpProvider {
    pub fn new(url: &str, token: Option<SecretString>, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            url: url.to_owned(),
            token,
        })
    }
}

#[async_trait]
impl Provider for HttpProvider {
    async fn send(&self, push: &Push) -> Result<(), PushError> {
        let body = json!({
            "message": {
                "token": push.token,
                "notification": {"title": push.title, "body": push.body},
                "data": push.data,
            }
        });
        let mut request = self.client.post(&self.url).json(&body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|e| PushError::Retry(format!("provider unreachable: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let error_status = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["status"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let detail = format!("{status} {error_status}").trim().to_owned();
        match (status.as_u16(), error_status.as_str()) {
            // Only the provider's word that the token is unknown forgets the device: a bare
            // 404 (a wrong PUSH_HTTP_URL, a gateway's missing route) says nothing about the
            // token, and treating it so would remove every device pushed to.
            (_, "UNREGISTERED" | "NOT_FOUND") => Err(PushError::InvalidToken(detail)),
            // 401/403: the provider's credentials (FCM's OAuth tokens expire hourly):
            // retried, then dead-lettered where an operator sees them, not dropped.
            (401 | 403 | 408 | 429, _) | (500..=599, _) => Err(PushError::Retry(detail)),
            _ => Err(PushError::Refused(detail)),
        }
    }
}

/// The configured provider.
pub fn provider(config: &PushProvider) -> anyhow::Result<Arc<dyn Provider>> {
    Ok(match config {
        PushProvider::Log => Arc::new(LogProvider),
        PushProvider::Http {
            url,
            token,
            timeout,
        } => Arc::new(HttpProvider::new(url, token.clone(), *timeout)?),
    })
}

/// After commit: one push job per notification and device of its recipient, queued with
/// the notification's `push:queued` mark in one pipeline. With
/// [`Delivery::Again`](crate::store::Delivery) (the effects sweep), a notification already
/// marked gets none again (the mark is only ever set beside its jobs, so a failed attempt
/// leaves none to hide them). Answers whether Redis took it all.
pub async fn enqueue(
    state: &AppState,
    made: &[notification::Model],
    devices: &HashMap<Uuid, Vec<Uuid>>,
    delivery: crate::store::Delivery,
) -> bool {
    let queue = state.keys.push_queue();
    let ttl = i64::try_from(common::keys::ttl::PUSH_QUEUED).unwrap_or(i64::MAX);
    let result: anyhow::Result<()> = async {
        let mut made: Vec<&notification::Model> = made
            .iter()
            .filter(|n| devices.get(&n.user_id).is_some_and(|d| !d.is_empty()))
            .collect();
        if delivery == crate::store::Delivery::Again && !made.is_empty() {
            let pipeline = state.redis.next().pipeline();
            for n in &made {
                let () = pipeline.exists(state.keys.push_queued(n.id)).await?;
            }
            let marked: Vec<i64> = pipeline.all().await?;
            made = made
                .into_iter()
                .zip(marked)
                .filter_map(|(n, m)| (m == 0).then_some(n))
                .collect();
        }
        if made.is_empty() {
            return Ok(());
        }
        let pipeline = state.redis.next().pipeline();
        for n in &made {
            for device in devices.get(&n.user_id).into_iter().flatten() {
                let raw = serde_json::to_vec(&PushJob {
                    notification_id: n.id,
                    device_id: *device,
                })?;
                service_kit::queue::queue_job(&pipeline, &queue, &raw).await?;
            }
            let () = pipeline
                .set(
                    state.keys.push_queued(n.id),
                    1,
                    Some(fred::types::Expiration::EX(ttl)),
                    None,
                    false,
                )
                .await?;
        }
        let _: Vec<fred::types::Value> = pipeline.all().await?;
        Ok(())
    }
    .await;
    crate::store::followed(result, made.len(), "Push jobs not queued yet")
}

/// Sends `push:queue` jobs.
pub struct Pusher {
    state: AppState,
    provider: Arc<dyn Provider>,
}

impl Pusher {
    pub fn new(state: AppState, provider: Arc<dyn Provider>) -> Self {
        Self { state, provider }
    }
}

fn data_strings(data: &str) -> HashMap<String, String> {
    match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        _ => HashMap::new(),
    }
}

#[async_trait]
impl JobHandler for Pusher {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let job: PushJob = job.payload_as()?;
        let db = &self.state.db;
        let Some(d) = device::Entity::find_by_id(job.device_id).one(db).await? else {
            return Ok(()); // unregistered since
        };
        let Some(n) = notification::Entity::find_by_id(job.notification_id)
            .one(db)
            .await?
        else {
            return Ok(());
        };
        if n.user_id != d.user_id {
            return Ok(()); // the device changed hands since
        }
        let mut data = data_strings(&n.data);
        data.insert("notification_id".into(), n.id.to_string());
        data.insert("kind".into(), n.kind.clone());
        let push = Push {
            token: d.token.clone(),
            platform: d.platform.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            data,
        };
        match self.provider.send(&push).await {
            Ok(()) => Ok(()),
            Err(PushError::InvalidToken(why)) => {
                device::Entity::delete_by_id(d.id).exec(db).await?;
                tracing::info!(device_id = %d.id, user_id = %d.user_id, why, "Device token invalid; device removed.");
                Ok(())
            }
            Err(PushError::Refused(why)) => {
                tracing::warn!(device_id = %d.id, notification_id = %n.id, why, "Push refused; dropped.");
                Ok(())
            }
            Err(e @ PushError::Retry(_)) => Err(e.into()),
        }
    }
}

/// Pushes from `push:queue` through `provider` until `stop` (the supervised task `push`).
pub async fn run(
    state: AppState,
    provider: Arc<dyn Provider>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let config = WorkerConfig {
        max_attempts: state.config.push_max_attempts,
        backoff_base: state.config.push_backoff,
        ..WorkerConfig::default()
    };
    let queue = state.keys.push_queue();
    let url = state.config.base.redis_url.clone();
    let pool = state.redis.clone();
    let pusher = Pusher::new(state, provider);
    service_kit::inbox::run_worker(&url, &pool, queue, pusher, config, stop).await
}
