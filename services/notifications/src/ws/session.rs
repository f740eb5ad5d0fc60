//! One WebSocket connection: joined to the user's notifications at once; then client
//! frames (subscribe, unsubscribe, resume), frames from the hub, pings, and the hub's
//! verdicts (revoked, expired, slow, stopping) until one side closes.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use actix_http::ws::{CloseCode, CloseReason, Message};
use bytestring::ByteString;
use common::auth::Claims;
use uuid::Uuid;

use super::frames::{self, ClientFrame, ServerFrame};
use super::hub::{Close, Registration};
use super::socket::{Incoming, Socket};
use crate::domain::channels::LiveChannel;
use crate::state::AppState;
use crate::store;

/// Largest client frame accepted (they are tiny).
pub const MAX_CLIENT_FRAME: usize = 4096;

/// How long the close frame may wait behind what a slow client has not read.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

struct Connection {
    state: AppState,
    claims: Claims,
    socket: Socket,
    reg_id: u64,
    tx: tokio::sync::mpsc::Sender<ByteString>,
    killer: super::hub::Killer,
    /// Subscribed: Redis name -> public name.
    subscribed: HashMap<String, String>,
    /// Notifications sent by the last `resume`, so their live copies are not sent twice.
    replayed: HashSet<Uuid>,
    /// After a `resync`, until the client's `resume`: the notifications sent live
    /// meanwhile, so that `resume` does not send them again (at most
    /// [`MAX_SINCE_RESYNC`]; a client that does not resume stops being tracked).
    since_resync: Option<HashSet<Uuid>>,
}

/// The most live notifications remembered between a `resync` and the client's `resume`.
const MAX_SINCE_RESYNC: usize = 1000;

enum Next {
    Go,
    Stop(Option<CloseReason>),
}

fn reason(why: Close) -> CloseReason {
    CloseReason {
        code: CloseCode::Other(why.code()),
        description: Some(why.reason().to_owned()),
    }
}

/// Runs the connection of `claims`' user on `socket` until it ends. `notifications` is
/// the user's channel (Redis name) the registration already joined.
pub async fn run(
    state: AppState,
    claims: Claims,
    socket: Socket,
    registration: Registration,
    notifications: String,
) {
    let Registration {
        id,
        mut rx,
        tx,
        killer,
    } = registration;
    let mut conn = Connection {
        state: state.clone(),
        claims,
        socket,
        reg_id: id,
        tx,
        killer: killer.clone(),
        subscribed: HashMap::new(),
        replayed: HashSet::new(),
        since_resync: None,
    };
    let ws = &state.config.ws;
    // The first ping at a random point of the first interval: connections opened together
    // (a reconnect storm, a load test) would otherwise all ping in the same instant, every
    // interval.
    let first = ws.ping_interval.mul_f64(rand::random::<f64>());
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + first, ws.ping_interval);
    let mut last_heard = Instant::now();
    let close = loop {
        let next = tokio::select! {
            biased;
            why = killer.killed() => Next::Stop(Some(reason(why))),
            frame = rx.recv() => match frame {
                Some(frame) => conn.forward(frame).await,
                None => Next::Stop(None),
            },
            message = conn.socket.recv() => {
                last_heard = Instant::now();
                match message {
                    // Boxed: subscribing and resuming await database queries, whose
                    // state would otherwise be part of every idle connection's task.
                    Ok(Some(Incoming::Text(text))) => Box::pin(conn.client_frame(&text)).await,
                    Ok(Some(Incoming::Binary)) => {
                        conn.send(frames::error("bad_frame", "frames are JSON text")).await
                    }
                    Ok(Some(Incoming::Ping(bytes))) => conn.send_message(Message::Pong(bytes)).await,
                    Ok(Some(Incoming::Pong)) => Next::Go,
                    Ok(Some(Incoming::Close) | None) => Next::Stop(None),
                    Err(broken) => {
                        tracing::debug!(?broken, "WebSocket connection broken.");
                        Next::Stop(broken.close_reason())
                    }
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > ws.client_timeout {
                    Next::Stop(Some(reason(Close::Timeout)))
                } else {
                    conn.send_message(Message::Ping(bytes::Bytes::new())).await
                }
            }
        };
        if let Next::Stop(why) = next {
            break why;
        }
    };
    let mut channels: Vec<String> = conn.subscribed.keys().cloned().collect();
    channels.push(notifications);
    // Boxed, as above: run once, at the end.
    Box::pin(state.hub.unregister(id, channels)).await;
    // A client that stopped reading may never take the close frame: do not wait forever.
    let _ = Box::pin(tokio::time::timeout(
        CLOSE_TIMEOUT,
        conn.socket.close(close),
    ))
    .await;
}

impl Connection {
    /// Sends a frame; a verdict of the hub (too slow, revoked) while the client is not
    /// taking it ends the wait.
    async fn send(&mut self, text: impl Into<ByteString>) -> Next {
        self.send_message(Message::Text(text.into())).await
    }

    /// Sends any message (a text frame, a ping, a pong) under the same rule.
    async fn send_message(&mut self, message: Message) -> Next {
        let killer = self.killer.clone();
        tokio::select! {
            sent = self.socket.send(message) => match sent {
                Ok(()) => Next::Go,
                Err(_) => Next::Stop(None),
            },
            why = killer.killed() => Next::Stop(Some(reason(why))),
        }
    }

    /// A frame from the hub, skipped if `resume` already sent it; after a `resync`, the
    /// notifications sent are remembered until the client resumes.
    async fn forward(&mut self, frame: ByteString) -> Next {
        if frame.as_bytes() == frames::resync().as_bytes() {
            self.since_resync = Some(HashSet::new());
            return self.send(frame).await;
        }
        let tracking = !self.replayed.is_empty() || self.since_resync.is_some();
        if tracking && let Some(id) = store::frame_id(&frame) {
            if self.replayed.contains(&id) {
                return Next::Go;
            }
            if let Some(sent) = self.since_resync.as_mut() {
                if sent.len() < MAX_SINCE_RESYNC {
                    sent.insert(id);
                } else {
                    self.since_resync = None;
                }
            }
        }
        self.send(frame).await
    }

    async fn client_frame(&mut self, text: &str) -> Next {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(f) => f,
            Err(e) => {
                return self
                    .send(frames::error(
                        "bad_frame",
                        &format!("expected {{\"type\": \"subscribe\" | \"unsubscribe\" | \"resume\", ...}}: {e}"),
                    ))
                    .await;
            }
        };
        match frame {
            ClientFrame::Subscribe { channel } => self.subscribe(&channel).await,
            ClientFrame::Unsubscribe { channel } => self.unsubscribe(&channel).await,
            ClientFrame::Resume { after } => self.resume(&after).await,
        }
    }

    async fn subscribe(&mut self, name: &str) -> Next {
        let Some(channel) = LiveChannel::parse(name) else {
            return self
                .send(frames::error(
                    "unknown_channel",
                    "channels are seller:{id}, invoice:{id}, offer:{id}, payment:{id}, kyc:status:{id}, admin:kyc and admin:events",
                ))
                .await;
        };
        let public = channel.public_name();
        let redis_name = channel.name(&self.state.keys);
        if self.subscribed.contains_key(&redis_name) {
            return self
                .send(ServerFrame::Subscribed { channel: &public }.text())
                .await;
        }
        if self.subscribed.len() >= self.state.config.ws.max_subscriptions {
            return self
                .send(frames::error(
                    "too_many_subscriptions",
                    &format!(
                        "at most {} channels per connection; unsubscribe first",
                        self.state.config.ws.max_subscriptions
                    ),
                ))
                .await;
        }
        let allowed = match channel.by_identity(self.claims.sub, self.claims.role) {
            Some(allowed) => Ok(allowed),
            None => store::is_member(&self.state.db, &public, self.claims.sub).await,
        };
        match allowed {
            Ok(true) => {}
            Ok(false) => {
                return self
                    .send(frames::error(
                        "forbidden",
                        &format!("you may not listen to {public}"),
                    ))
                    .await;
            }
            Err(error) => {
                tracing::error!(%error, "Entitlement check failed.");
                return self
                    .send(frames::error("unavailable", "cannot check that now; retry"))
                    .await;
            }
        }
        let joined = self
            .state
            .hub
            .join(
                self.reg_id,
                &redis_name,
                &public,
                self.tx.clone(),
                self.killer.clone(),
            )
            .await;
        if let Err(error) = joined {
            tracing::warn!(%error, channel = public, "Subscribe failed.");
            return self
                .send(frames::error("unavailable", "cannot subscribe now; retry"))
                .await;
        }
        self.subscribed.insert(redis_name, public.clone());
        self.send(ServerFrame::Subscribed { channel: &public }.text())
            .await
    }

    async fn unsubscribe(&mut self, name: &str) -> Next {
        let Some(channel) = LiveChannel::parse(name) else {
            return self
                .send(frames::error("unknown_channel", "not a channel name"))
                .await;
        };
        let redis_name = channel.name(&self.state.keys);
        if self.subscribed.remove(&redis_name).is_some() {
            self.state.hub.leave(self.reg_id, &redis_name).await;
        }
        let public = channel.public_name();
        self.send(ServerFrame::Unsubscribed { channel: &public }.text())
            .await
    }

    async fn resume(&mut self, after: &str) -> Next {
        let Ok(after) = after.parse::<Uuid>() else {
            return self
                .send(frames::error(
                    "bad_cursor",
                    "after must be a notification id",
                ))
                .await;
        };
        let max = self.state.config.ws.resume_max;
        let (missed, more) = match store::since(&self.state, self.claims.sub, after, max).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, "Resume failed.");
                return self
                    .send(frames::error("unavailable", "cannot resume now; retry"))
                    .await;
            }
        };
        self.replayed.clear();
        let sent_live = self.since_resync.take().unwrap_or_default();
        let mut count = 0;
        for frame in missed {
            if let Some(id) = store::frame_id(&frame) {
                if sent_live.contains(&id) {
                    continue;
                }
                self.replayed.insert(id);
            }
            count += 1;
            if let Next::Stop(why) = self.send(frame).await {
                return Next::Stop(why);
            }
        }
        self.send(ServerFrame::Resumed { count, more }.text()).await
    }
}
