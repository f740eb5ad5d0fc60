//! Redis pub/sub for live fan-out (UI updates, cache invalidation), never for anything
//! that must happen: a message published while a subscriber is away is gone. Work that
//! must be done travels on a queue (see `queue`).
//!
//! - [`publish`] serialises a message to JSON and publishes it on a channel.
//! - [`Subscriber`] wraps fred's `SubscriberClient` built by [`crate::redis::subscriber`],
//!   which reconnects forever and resubscribes every tracked channel after a reconnect
//!   (`manage_subscriptions`), so a Redis restart costs only the messages sent meanwhile.
//! - [`Messages`] is a receiver of `(channel, payload)` messages. fred delivers through a
//!   bounded broadcast channel; a receiver that falls behind gets `Lagged`. fred's own
//!   example loop stops there; [`Messages::recv`] logs, counts the skipped messages
//!   ([`Subscriber::lagged_total`]) and carries on with the oldest message still held.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use fred::bytes::Bytes;
use fred::prelude::{ClientLike, EventInterface, PubsubInterface};
use futures::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use crate::redis::{Pool, RedisError, SubscriberClient};

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("message does not serialise to JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("publishing failed: {0}")]
    Redis(#[from] RedisError),
}

/// Publishes `message` as JSON on `channel`; returns how many subscribers received it.
pub async fn publish(
    redis: &Pool,
    channel: &str,
    message: &impl Serialize,
) -> Result<u64, PublishError> {
    let payload = serde_json::to_vec(message)?;
    Ok(publish_bytes(redis, channel, payload).await?)
}

/// Publishes each of `messages` on `channel`, in order, in one pipeline.
pub async fn publish_all<M: Serialize + Sync>(
    redis: &Pool,
    channel: &str,
    messages: &[M],
) -> Result<(), PublishError> {
    let pairs: Vec<(&str, &M)> = messages.iter().map(|m| (channel, m)).collect();
    publish_many(redis, &pairs).await
}

/// Publishes each `(channel, message)`, in order, in one pipeline.
pub async fn publish_many<C, M>(redis: &Pool, messages: &[(C, M)]) -> Result<(), PublishError>
where
    C: AsRef<str> + Sync,
    M: Serialize + Sync,
{
    if messages.is_empty() {
        return Ok(());
    }
    let pipeline = redis.next().pipeline();
    for (channel, message) in messages {
        let () = pipeline
            .publish(channel.as_ref(), Bytes::from(serde_json::to_vec(message)?))
            .await?;
    }
    let _: Vec<fred::types::Value> = pipeline.all().await?;
    Ok(())
}

/// Publishes raw bytes on `channel`; returns how many subscribers received them.
pub async fn publish_bytes(
    redis: &Pool,
    channel: &str,
    payload: impl Into<Bytes>,
) -> Result<u64, RedisError> {
    redis.next().publish(channel, payload.into()).await
}

/// One message received on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub channel: String,
    pub payload: Bytes,
}

impl Message {
    /// The payload parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

/// A subscribing connection. Cheap to clone; clones share the connection, its
/// subscriptions and its lag counter.
///
/// Subscriptions belong to the connection, not to a [`Messages`] receiver: every receiver
/// sees every channel the connection is subscribed to (filter with
/// [`Subscriber::messages_on`]), and [`Subscriber::unsubscribe`] stops a channel for all
/// of them.
#[derive(Clone)]
pub struct Subscriber {
    client: SubscriberClient,
    lagged: Arc<AtomicU64>,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("channels", &self.channels())
            .field("lagged", &self.lagged_total())
            .finish()
    }
}

impl Subscriber {
    /// Connects a subscriber to `url` that resubscribes after every reconnect.
    pub async fn connect(url: &str) -> Result<Self, RedisError> {
        Ok(Self::from_client(crate::redis::subscriber(url).await?))
    }

    /// Wraps a connected client. Build it with [`crate::redis::subscriber`] (which calls
    /// `manage_subscriptions`), or subscriptions are lost at the first reconnect.
    pub fn from_client(client: SubscriberClient) -> Self {
        Self {
            client,
            lagged: Arc::default(),
        }
    }

    /// The underlying fred client.
    pub fn client(&self) -> &SubscriberClient {
        &self.client
    }

    /// Subscribes to `channel`; it is resubscribed after every reconnect until
    /// [`Subscriber::unsubscribe`]. Messages reach receivers created before or after.
    pub async fn subscribe(&self, channel: &str) -> Result<(), RedisError> {
        self.client.subscribe(channel).await
    }

    /// Subscribes to several channels in one command.
    pub async fn subscribe_all(&self, channels: &[&str]) -> Result<(), RedisError> {
        let channels: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
        self.client.subscribe(channels).await
    }

    pub async fn unsubscribe(&self, channel: &str) -> Result<(), RedisError> {
        self.client.unsubscribe(channel).await
    }

    /// The channels this connection is subscribed to (and will resubscribe).
    pub fn channels(&self) -> Vec<String> {
        self.client
            .tracked_channels()
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    /// A receiver of every message of every channel of this connection, from now on.
    pub fn messages(&self) -> Messages {
        Messages {
            rx: self.client.message_rx(),
            only: None,
            lagged: 0,
            lagged_total: self.lagged.clone(),
        }
    }

    /// A receiver of the messages of `channels` only (they must still be subscribed).
    pub fn messages_on<I, S>(&self, channels: I) -> Messages
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Messages {
            only: Some(channels.into_iter().map(Into::into).collect()),
            ..self.messages()
        }
    }

    /// This connection's reconnects from now on, each told once every tracked channel is
    /// subscribed again ([`Reconnects::next`]): from then on nothing published is missed.
    /// What was published while it was away is gone (pub/sub keeps nothing), so a caller
    /// that must not miss anything recovers it from where it is kept.
    pub fn reconnects(&self) -> Reconnects {
        Reconnects {
            client: self.client.clone(),
            rx: self.client.reconnect_rx(),
        }
    }

    /// Messages skipped by all receivers of this subscriber because they fell behind.
    pub fn lagged_total(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// Closes the connection; every receiver then ends.
    pub async fn quit(&self) -> Result<(), RedisError> {
        self.client.quit().await
    }
}

/// The reconnects of a [`Subscriber`] ([`Subscriber::reconnects`]).
pub struct Reconnects {
    client: SubscriberClient,
    rx: Receiver<fred::types::config::Server>,
}

impl Reconnects {
    /// The next reconnect, once its channels are subscribed again (several reconnects
    /// in a row count as one). `None` when the client is gone.
    pub async fn next(&mut self) -> Option<()> {
        loop {
            match self.rx.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
            // fred resubscribes on its own too (`manage_subscriptions`); this one is
            // awaited, so the channels are back when it returns.
            match self.client.resubscribe_all().await {
                Ok(()) => return Some(()),
                Err(error) => {
                    tracing::warn!(%error, "Resubscribing after a reconnect failed; waiting for the next reconnect.");
                }
            }
        }
    }
}

/// A receiver of messages; see the module docs for how it handles falling behind.
pub struct Messages {
    rx: Receiver<fred::types::Message>,
    only: Option<HashSet<String>>,
    lagged: u64,
    lagged_total: Arc<AtomicU64>,
}

impl fmt::Debug for Messages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messages")
            .field("only", &self.only)
            .field("lagged", &self.lagged)
            .finish_non_exhaustive()
    }
}

impl Messages {
    /// The next message, or `None` once the subscriber has quit. Falling behind skips the
    /// messages lost (logged and counted) and goes on.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            match self.rx.recv().await {
                Ok(message) => {
                    let channel = message.channel.to_string();
                    if self
                        .only
                        .as_ref()
                        .is_some_and(|only| !only.contains(&channel))
                    {
                        continue;
                    }
                    let Some(payload) = message.value.into_bytes() else {
                        tracing::warn!(channel, "pub/sub message without a payload skipped");
                        continue;
                    };
                    return Some(Message { channel, payload });
                }
                Err(RecvError::Lagged(skipped)) => {
                    self.lagged += skipped;
                    self.lagged_total.fetch_add(skipped, Ordering::Relaxed);
                    tracing::warn!(
                        skipped,
                        "pub/sub receiver fell behind; messages skipped, continuing"
                    );
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Messages this receiver skipped because it fell behind.
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    /// This receiver as a stream that ends when the subscriber quits.
    pub fn into_stream(self) -> impl Stream<Item = Message> + Send + Unpin {
        Box::pin(futures::stream::unfold(self, |mut messages| async move {
            messages.recv().await.map(|message| (message, messages))
        }))
    }
}
