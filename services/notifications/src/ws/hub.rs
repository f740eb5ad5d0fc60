use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bytestring::ByteString;
use common::auth::{Claims, Verifier, judge_revocation};
use common::clock::SharedClock;
use service_kit::pubsub::{Message, Subscriber};

use service_kit::shutdown::CancellationToken;
use tokio::sync::mpsc;

/// Why the server closed a connection (WebSocket close code and reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// 4001: the token the ticket came from was revoked (logout, suspension).
    Revoked,
    /// 4002: the token the ticket came from expired; take a new ticket.
    Expired,
    /// 4008: the client fell `WS_BUFFER` frames behind.
    Slow,
    /// 4000: no pong or frame within `WS_CLIENT_TIMEOUT_SECS`.
    Timeout,
    /// 1001: the server is stopping; reconnect (and resume).
    Shutdown,
}

impl Close {
    pub fn code(self) -> u16 {
        match self {
            Close::Revoked => 4001,
            Close::Expired => 4002,
            Close::Slow => 4008,
            Close::Timeout => 4000,
            Close::Shutdown => 1001,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Close::Revoked => "token revoked",
            Close::Expired => "token expired",
            Close::Slow => "too slow: send buffer full",
            Close::Timeout => "heartbeat timeout",
            Close::Shutdown => "server stopping",
        }
    }
}

/// Closes one connection from outside its task (first reason wins).
#[derive(Clone, Default)]
pub struct Killer {
    token: CancellationToken,
    reason: Arc<OnceLock<Close>>,
}

impl Killer {
    pub fn kill(&self, why: Close) {
        let _ = self.reason.set(why);
        self.token.cancel();
    }

    pub async fn killed(&self) -> Close {
        self.token.cancelled().await;
        self.reason.get().copied().unwrap_or(Close::Shutdown)
    }
}

#[derive(Clone)]
struct Member {
    tx: mpsc::Sender<ByteString>,
    killer: Killer,
}

struct Route {
    /// The name clients know, for `event` frames; `None` for a user's notification
    /// channel, whose messages are already frames and go out as they are.
    public: Option<Arc<str>>,
    members: HashMap<u64, Member>,
}

struct Conn {
    claims: Claims,
    killer: Killer,
    /// The connection's frames (for what the hub tells every connection).
    tx: mpsc::Sender<ByteString>,
}

struct Inner {
    subscriber: Subscriber,
    routes: RwLock<HashMap<String, Route>>,
    /// Serialises SUBSCRIBE/UNSUBSCRIBE with the route changes that cause them, so a leave
    /// racing a join never unsubscribes a channel that has listeners.
    changes: tokio::sync::Mutex<()>,
    conns: std::sync::Mutex<HashMap<u64, Conn>>,
    next_id: AtomicU64,
    buffer: usize,
    slow_closed: AtomicU64,
    stop: CancellationToken,
}

/// The instance's fan-out (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// A connection's place in the hub: its id, the frames for it and its killer.
pub struct Registration {
    pub id: u64,
    pub rx: mpsc::Receiver<ByteString>,
    /// The connection's own buffer, for the channels it joins later.
    pub tx: mpsc::Sender<ByteString>,
    pub killer: Killer,
}

impl Hub {
    /// Starts the hub on `subscriber` (its own connection) with a buffer of `buffer`
    /// frames per connection; runs until `stop`.
    pub fn start(subscriber: Subscriber, buffer: usize, stop: CancellationToken) -> Self {
        let hub = Self {
            inner: Arc::new(Inner {
                subscriber,
                routes: RwLock::new(HashMap::new()),
                changes: tokio::sync::Mutex::new(()),
                conns: std::sync::Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                buffer: buffer.max(1),
                slow_closed: AtomicU64::new(0),
                stop,
            }),
        };
        // After Redis comes back, every connection is told to resume: what was published
        // while the subscriber was away is gone from pub/sub, but kept in the feed.
        let told = hub.clone();
        let mut reconnects = hub.inner.subscriber.reconnects();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = told.inner.stop.cancelled() => break,
                    back = reconnects.next() => match back {
                        Some(()) => told.tell_all(super::frames::resync()),
                        None => break,
                    },
                }
            }
        });
        let dispatcher = hub.clone();
        let mut messages = hub.inner.subscriber.messages();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = dispatcher.inner.stop.cancelled() => break,
                    m = messages.recv() => match m {
                        Some(m) => dispatcher.dispatch(m),
                        None => break,
                    },
                }
            }
            dispatcher.close_all(Close::Shutdown);
            let _ = dispatcher.inner.subscriber.quit().await;
        });
        hub
    }

    /// Checks every open connection's token every `every`: revoked (one pipelined round
    /// trip for all) or expired by `clock` closes it. Runs until the hub stops.
    pub fn watch_tokens(&self, verifier: Verifier, clock: SharedClock, every: Duration) {
        let hub = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = hub.inner.stop.cancelled() => break,
                    _ = tick.tick() => hub.check_tokens(&verifier, &clock).await,
                }
            }
        });
    }

    async fn check_tokens(&self, verifier: &Verifier, clock: &SharedClock) {
        let now = clock.now().timestamp();
        let open: Vec<(Claims, Killer)> = self
            .inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|c| (c.claims.clone(), c.killer.clone()))
            .collect();
        for chunk in open.chunks(512) {
            let mut live = Vec::with_capacity(chunk.len());
            for (claims, killer) in chunk {
                if claims.exp <= now {
                    killer.kill(Close::Expired);
                } else {
                    live.push((claims, killer));
                }
            }
            if live.is_empty() {
                continue;
            }
            let pipeline = verifier.redis().next().pipeline();
            let mut queued = true;
            for (claims, _) in &live {
                queued &= verifier.queue_revocation(&pipeline, claims).await.is_ok();
            }
            let answers: Vec<fred::types::Value> = match pipeline.all().await {
                Ok(a) if queued => a,
                Ok(_) => continue,
                Err(error) => {
                    // Pub/sub is down with it: nothing is delivered until Redis is back;
                    // the next check decides.
                    tracing::warn!(%error, "Token check of open connections failed.");
                    continue;
                }
            };
            for ((claims, killer), pair) in live.iter().zip(answers.chunks(2)) {
                let blacklisted = pair.first().and_then(|v| v.as_i64()).unwrap_or(0);
                let revoked_before = pair.get(1).and_then(|v| v.as_i64());
                if judge_revocation(claims, blacklisted, revoked_before).is_err() {
                    killer.kill(Close::Revoked);
                }
            }
        }
    }

    /// Sends `frame` to every open connection (one whose buffer is full is closed as
    /// slow, as for any frame).
    fn tell_all(&self, frame: &str) {
        let frame = ByteString::from(frame.to_owned());
        let conns: Vec<(mpsc::Sender<ByteString>, Killer)> = self
            .inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|c| (c.tx.clone(), c.killer.clone()))
            .collect();
        tracing::info!(
            connections = conns.len(),
            "Redis is back: every connection told to resume."
        );
        for (tx, killer) in conns {
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(frame.clone()) {
                killer.kill(Close::Slow);
            }
        }
    }

    fn dispatch(&self, m: Message) {
        let routes = self.inner.routes.read().unwrap_or_else(|e| e.into_inner());
        let Some(route) = routes.get(&m.channel) else {
            return;
        };
        // A traced notification: its delivery is a span in the trace of the event that
        // made it, and the prefix goes no further.
        let (traceparent, frame_len) = match super::frames::untraced(&m.payload) {
            (Some(tp), frame) => (Some(tp.to_owned()), frame.len()),
            (None, frame) => (None, frame.len()),
        };
        let payload = m.payload.slice(m.payload.len() - frame_len..);
        let _delivery = traceparent.map(|tp| {
            let span = tracing::info_span!(
                "ws_deliver",
                detail = %format_args!("{} connection(s)", route.members.len()),
                otel.kind = "producer",
            );
            service_kit::telemetry::set_parent(&span, &tp);
            span
        });
        let frame = match &route.public {
            None => match ByteString::try_from(payload) {
                Ok(s) => s,
                Err(_) => return,
            },
            Some(public) => event_frame(public, &payload),
        };
        for member in route.members.values() {
            match member.tx.try_send(frame.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    if member.killer.reason.get().is_none() {
                        self.inner.slow_closed.fetch_add(1, Ordering::Relaxed);
                    }
                    member.killer.kill(Close::Slow);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Registers a connection of `claims`' user and joins it to `notifications` (the
    /// user's channel, Redis name) before anything else can be missed.
    pub async fn register(
        &self,
        claims: Claims,
        notifications: &str,
    ) -> Result<Registration, service_kit::redis::RedisError> {
        // Once stopping, every connection was told to go (1001): a new one is refused
        // (503) rather than left open with nobody to close it.
        if self.inner.stop.is_cancelled() {
            return Err(fred::error::Error::new(
                fred::error::ErrorKind::Canceled,
                "the service is stopping",
            ));
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.inner.buffer);
        let killer = Killer::default();
        self.inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Conn {
                    claims,
                    killer: killer.clone(),
                    tx: tx.clone(),
                },
            );
        let member = Member {
            tx: tx.clone(),
            killer: killer.clone(),
        };
        if let Err(e) = self.join_member(id, notifications, None, member).await {
            self.forget(id);
            return Err(e);
        }
        Ok(Registration { id, rx, tx, killer })
    }

    /// Adds connection `id` as a listener of `channel` (Redis name), known to the client
    /// as `public`.
    pub async fn join(
        &self,
        id: u64,
        channel: &str,
        public: &str,
        tx: mpsc::Sender<ByteString>,
        killer: Killer,
    ) -> Result<(), service_kit::redis::RedisError> {
        self.join_member(id, channel, Some(public.into()), Member { tx, killer })
            .await
    }

    async fn join_member(
        &self,
        id: u64,
        channel: &str,
        public: Option<Arc<str>>,
        member: Member,
    ) -> Result<(), service_kit::redis::RedisError> {
        let _turn = self.inner.changes.lock().await;
        let first = {
            let mut routes = self.inner.routes.write().unwrap_or_else(|e| e.into_inner());
            let route = routes.entry(channel.to_owned()).or_insert_with(|| Route {
                public,
                members: HashMap::new(),
            });
            route.members.insert(id, member);
            route.members.len() == 1
        };
        if first && let Err(e) = self.inner.subscriber.subscribe(channel).await {
            self.remove_member(id, channel);
            return Err(e);
        }
        Ok(())
    }

    /// Removes `id` from `channel`; returns whether it was the last listener.
    fn remove_member(&self, id: u64, channel: &str) -> bool {
        let mut routes = self.inner.routes.write().unwrap_or_else(|e| e.into_inner());
        let Some(route) = routes.get_mut(channel) else {
            return false;
        };
        route.members.remove(&id);
        if route.members.is_empty() {
            routes.remove(channel);
            return true;
        }
        false
    }

    /// Connection `id` stops listening to `channel` (Redis name).
    pub async fn leave(&self, id: u64, channel: &str) {
        let _turn = self.inner.changes.lock().await;
        if self.remove_member(id, channel)
            && let Err(error) = self.inner.subscriber.unsubscribe(channel).await
        {
            tracing::warn!(%error, channel, "Unsubscribe failed.");
        }
    }

    /// Connection `id` is gone: leaves `channels` and is forgotten.
    pub async fn unregister(&self, id: u64, channels: impl IntoIterator<Item = String>) {
        for c in channels {
            self.leave(id, &c).await;
        }
        self.forget(id);
    }

    fn forget(&self, id: u64) {
        self.inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    fn close_all(&self, why: Close) {
        for c in self
            .inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            c.killer.kill(why);
        }
    }

    /// Open connections on this instance.
    pub fn connections(&self) -> usize {
        self.inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Redis channels this instance listens to (one subscription each, however many
    /// clients).
    pub fn channels(&self) -> Vec<String> {
        self.inner.subscriber.channels()
    }

    /// Connections closed for falling behind, since start.
    pub fn slow_closed(&self) -> u64 {
        self.inner.slow_closed.load(Ordering::Relaxed)
    }
}

/// `{"type":"event","channel":..,"data":..}` around a published payload (JSON as it is;
/// anything else as a JSON string).
fn event_frame(public: &str, payload: &[u8]) -> ByteString {
    let data = match std::str::from_utf8(payload) {
        Ok(text) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => text.to_owned(),
        _ => serde_json::to_string(&String::from_utf8_lossy(payload)).unwrap_or_default(),
    };
    let channel = serde_json::to_string(public).unwrap_or_default();
    ByteString::from(format!(
        r#"{{"type":"event","channel":{channel},"data":{data}}}"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_frames_wrap_json_as_is_and_text_as_a_string() {
        let channel = common::keys::Keys::default().offer_channel(uuid::Uuid::nil());
        let f = event_frame(&channel, br#"{"status":"accepted"}"#);
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["channel"], channel.as_str());
        assert_eq!(v["data"]["status"], "accepted");
        let f = event_frame(&channel, b"not json \"quoted\"");
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["data"], "not json \"quoted\"");
    }

    #[test]
    fn close_codes_are_application_codes_except_shutdown() {
        for c in [Close::Revoked, Close::Expired, Close::Slow, Close::Timeout] {
            assert!((4000..5000).contains(&c.code()));
        }
        assert_eq!(Close::Shutdown.code(), 1001);
    }
}
