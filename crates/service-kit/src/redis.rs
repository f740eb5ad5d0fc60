//! Redis clients with the settings every service wants: reconnect forever with
//! exponential backoff (fred's default is never), a command timeout so a dead Redis fails
//! a request instead of hanging it, and a dedicated client for blocking commands.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub use fred::clients::SubscriberClient;
use fred::prelude::{Builder, ClientLike, Config, ReconnectPolicy};
pub use fred::prelude::{Client, Pool};

pub type RedisError = fred::error::Error;

/// Default timeout of an ordinary command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// `REDIS_URL` as fred reads it. Besides fred's own forms (`redis://host:port`,
/// `redis-cluster://host:port?node=host:port&node=...`), a cluster may be named by its seed
/// nodes separated by commas, as most tools write it:
/// `redis-cluster://[user:password@]host:port,host:port,...`.
pub fn config(url: &str) -> Result<Config, RedisError> {
    Config::from_url(&fred_url(url))
}

/// A Redis URL taken apart: `scheme://credentials@hosts/tail`, credentials with their
/// `@` (or empty), hosts a comma-separated list (a cluster's seed nodes), the tail the
/// path and query. A bare `host:port` has no scheme.
struct UrlParts<'a> {
    scheme: &'a str,
    credentials: &'a str,
    hosts: &'a str,
    tail: &'a str,
}

fn url_parts(url: &str) -> UrlParts<'_> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (credentials, rest) = match rest.rfind('@') {
        Some(at) => rest.split_at(at + 1),
        None => ("", rest),
    };
    let (hosts, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    UrlParts {
        scheme,
        credentials,
        hosts,
        tail,
    }
}

/// Whether `url` names a Redis Cluster (`redis-cluster://`, `rediss-cluster://`, ...).
pub fn is_cluster(url: &str) -> bool {
    url_parts(url).scheme.ends_with("-cluster")
}

/// The `(host, port)` of every node `url` names (one, or a cluster's seed list); a node
/// without a port gets `default_port`. `url` may also be a bare `host:port`.
pub fn nodes(url: &str, default_port: u16) -> Vec<(String, u16)> {
    url_parts(url)
        .hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| match h.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(default_port)),
            None => (h.to_owned(), default_port),
        })
        .collect()
}

/// `url` with `user` and `password` instead of its own credentials.
pub fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let p = url_parts(url);
    let scheme = if p.scheme.is_empty() {
        "redis"
    } else {
        p.scheme
    };
    format!("{scheme}://{user}:{password}@{}{}", p.hosts, p.tail)
}

/// Rewrites the comma form of a cluster URL into fred's `?node=` form.
fn fred_url(url: &str) -> std::borrow::Cow<'_, str> {
    let UrlParts {
        scheme,
        credentials,
        hosts,
        tail,
    } = url_parts(url);
    if !scheme.ends_with("-cluster") {
        return url.into();
    }
    let Some((first, others)) = hosts.split_once(',') else {
        return url.into();
    };
    let nodes: Vec<String> = others
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|n| format!("node={n}"))
        .collect();
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let mut out = format!("{scheme}://{credentials}{first}{path}?{}", nodes.join("&"));
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        out.push('&');
        out.push_str(query);
    }
    out.into()
}

fn builder(url: &str, command_timeout: Duration) -> Result<Builder, RedisError> {
    let config = config(url)?;
    let mut builder = Builder::from_config(config);
    builder
        // max_attempts 0 = forever; 100 ms doubling up to 5 s.
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(3);
            c.internal_command_timeout = Duration::from_secs(3);
        })
        .with_performance_config(|p| {
            p.default_command_timeout = command_timeout;
        });
    Ok(builder)
}

pub use crate::queue::scripts::Lua;

/// A connected pool for ordinary commands.
pub async fn pool(url: &str, size: usize) -> Result<Pool, RedisError> {
    let pool = builder(url, COMMAND_TIMEOUT)?.build_pool(size.max(1))?;
    pool.init().await?;
    Ok(pool)
}

/// A connected client of its own, for one consumer loop's blocking commands (BLMOVE
/// stalls everything queued behind it on its connection). `block` is the longest block
/// the caller will ask for; the command timeout stays above it.
pub async fn dedicated(url: &str, block: Duration) -> Result<Client, RedisError> {
    let client = builder(url, block + COMMAND_TIMEOUT)?.build()?;
    client.init().await?;
    Ok(client)
}

/// Messages a subscriber holds for its slowest receiver before that receiver lags
/// (fred's default, 32, drops messages of a burst while a fan-out task is busy). fred
/// allocates each of a client's eight event channels at this size when it connects, so
/// the buffer is resident from the start: 8192 held about 6 MB of an idle notifications
/// service; 1024 still covers a second of the WebSocket load test's 1,000 messages/s
/// with nothing lagged (docs/performance.md, "Memory").
pub const SUBSCRIBER_BUFFER: usize = 1024;

/// A subscriber client that resubscribes after reconnecting.
pub async fn subscriber(url: &str) -> Result<SubscriberClient, RedisError> {
    let mut builder = builder(url, COMMAND_TIMEOUT)?;
    builder.with_performance_config(|p| {
        p.broadcast_channel_capacity = SUBSCRIBER_BUFFER;
    });
    let client = builder.build_subscriber_client()?;
    client.init().await?;
    client.manage_subscriptions();
    Ok(client)
}

static NEXT_PER_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static PER_THREAD: RefCell<HashMap<usize, Rc<tokio::sync::OnceCell<Client>>>> =
        RefCell::new(HashMap::new());
}

/// One Redis client per thread that asks, connected on first use, for the hot paths of
/// request handlers. An actix worker is a single-threaded runtime: its client's
/// connection task runs on the worker's own thread, so a request's round trip wakes no
/// other thread (with a shared pool every command crossed to the runtime that drives the
/// pool's connections and back: two wake-ups and two context switches a request).
/// Settings as [`pool`]. Cheap to clone; clones share the per-thread clients.
#[derive(Clone, Debug)]
pub struct PerThread {
    url: Arc<str>,
    id: usize,
}

impl PerThread {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.into(),
            id: NEXT_PER_THREAD.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// This thread's client (connecting it the first time). A failed first connection is
    /// an error, and the next call tries again.
    pub async fn client(&self) -> Result<Client, RedisError> {
        let cell =
            PER_THREAD.with(|clients| clients.borrow_mut().entry(self.id).or_default().clone());
        let client = cell
            .get_or_try_init(|| async {
                let client = builder(&self.url, COMMAND_TIMEOUT)?.build()?;
                client.init().await?;
                Ok::<_, RedisError>(client)
            })
            .await?;
        Ok(client.clone())
    }
}

/// The primaries of a cluster client's last known slot map (for commands that answer for
/// one node only: `INFO`, `PUBSUB NUMSUB`, sent to each with `with_cluster_node`).
pub fn primaries(client: &Client) -> Vec<fred::types::config::Server> {
    use fred::interfaces::ClusterInterface;
    client
        .cached_cluster_state()
        .map(|state| state.unique_primary_nodes())
        .unwrap_or_default()
}

/// Who serves the data: the server's `run_id`, or on a cluster every primary's address
/// and `run_id`, sorted. It changes when a server restarts (and may have lost what it
/// acknowledged last) and on a cluster when a replica is promoted (what the old primary
/// had not replicated yet is lost) or the primaries change: the outbox relay then sends
/// its recent events again.
pub async fn server_identity(client: &Client) -> Result<String, RedisError> {
    use fred::types::InfoKind;
    fn run_id(info: &str) -> String {
        info.lines()
            .find_map(|l| l.strip_prefix("run_id:"))
            .map(|id| id.trim().to_owned())
            .unwrap_or_default()
    }
    if !client.is_clustered() {
        let info: String = client.info(Some(InfoKind::Server)).await?;
        return Ok(run_id(&info));
    }
    let primaries = primaries(client);
    let mut ids = Vec::with_capacity(primaries.len());
    for server in primaries {
        let info: String = client
            .with_cluster_node(server.clone())
            .info(Some(InfoKind::Server))
            .await?;
        ids.push(format!("{server}={}", run_id(&info)));
    }
    ids.sort();
    Ok(ids.join(","))
}

/// Why Redis is not ready yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// No connection (refused, timed out, DNS): Redis is not up, or not reachable.
    Unreachable(String),
    /// Redis answers `LOADING`: it is replaying its AOF or RDB after a start.
    Loading,
    /// Redis answered something else than `PONG` (an ACL or auth problem, say).
    Refused(String),
}

impl NotReady {
    /// A word for `/readyz`: `down` or `loading`.
    pub fn word(&self) -> &'static str {
        match self {
            NotReady::Loading => "loading",
            NotReady::Unreachable(_) | NotReady::Refused(_) => "down",
        }
    }
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Unreachable(e) => write!(f, "Redis is unreachable ({e})"),
            NotReady::Loading => f.write_str("Redis is loading its dataset"),
            NotReady::Refused(e) => write!(f, "Redis refused PING ({e})"),
        }
    }
}

/// Whether an error is Redis's `LOADING` reply (a restart replaying a large dataset: every
/// command but a few is refused until it is done).
pub fn is_loading(err: &RedisError) -> bool {
    err.details().starts_with("LOADING")
}

/// One probe: a fresh connection (no reconnect policy) and a `PING` that must answer
/// `PONG`. `PING` is refused with `LOADING` while Redis replays its data, so a Redis that
/// accepts connections is not yet a Redis that serves.
pub async fn probe(url: &str) -> Result<(), NotReady> {
    let config = config(url).map_err(|e| NotReady::Refused(e.to_string()))?;
    let client = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(2);
            c.internal_command_timeout = Duration::from_secs(2);
        })
        .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(2))
        .build()
        .map_err(|e| NotReady::Refused(e.to_string()))?;
    // fred's connection set-up sends a command of its own, so LOADING can come from here.
    if let Err(e) = client.init().await {
        return Err(if is_loading(&e) {
            NotReady::Loading
        } else {
            NotReady::Unreachable(e.details().to_owned())
        });
    }
    let answer = client.ping::<String>(None).await;
    let _ = client.quit().await;
    match answer {
        Ok(pong) if pong.eq_ignore_ascii_case("PONG") => Ok(()),
        Ok(other) => Err(NotReady::Refused(other)),
        Err(e) if is_loading(&e) => Err(NotReady::Loading),
        Err(e)
            if matches!(
                e.kind(),
                fred::error::ErrorKind::IO
                    | fred::error::ErrorKind::Timeout
                    | fred::error::ErrorKind::Canceled
            ) =>
        {
            Err(NotReady::Unreachable(e.details().to_owned()))
        }
        Err(e) => Err(NotReady::Refused(e.details().to_owned())),
    }
}

/// The longest pause between two probes of [`until_ready`].
pub const READY_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Waits until Redis answers `PING` with `PONG`, probing with backoff (100 ms doubling up
/// to [`READY_BACKOFF_MAX`]) while it is unreachable or loading, logging what it waits for
/// (once per change of reason) and telling `report` at each probe that fails. Never gives
/// up: a service that starts while Redis replays a large AOF waits for it instead of
/// exiting (and taking the stack down with it, as `make run` once did).
pub async fn until_ready(url: &str, mut report: impl FnMut(&NotReady)) {
    let mut pause = Duration::from_millis(100);
    let mut last: Option<NotReady> = None;
    loop {
        match probe(url).await {
            Ok(()) => break,
            Err(why) => {
                if last.as_ref() != Some(&why) {
                    tracing::warn!(reason = %why, "Waiting for Redis before starting.");
                }
                report(&why);
                last = Some(why);
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(READY_BACKOFF_MAX);
    }
    if last.is_some() {
        tracing::info!("Redis answers; starting.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::config::ServerConfig;

    #[test]
    fn a_cluster_named_by_commas_is_fred_s_node_list() {
        assert_eq!(
            fred_url("redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"),
            "redis-cluster://127.0.0.1:7000?node=127.0.0.1:7001&node=127.0.0.1:7002"
        );
        assert_eq!(
            fred_url("redis-cluster://u:p%40ss@a:1,b:2?x=y"),
            "redis-cluster://u:p%40ss@a:1?node=b:2&x=y"
        );
        for same in [
            "redis://127.0.0.1:6379",
            "redis-cluster://a:1",
            "redis-cluster://a:1?node=b:2",
        ] {
            assert_eq!(fred_url(same), same);
        }
        let config = config("redis-cluster://u:pw@a:1,b:2,c:3").unwrap();
        match config.server {
            ServerConfig::Clustered { hosts, .. } => {
                let mut hosts: Vec<String> = hosts
                    .iter()
                    .map(|h| format!("{}:{}", h.host, h.port))
                    .collect();
                hosts.sort();
                assert_eq!(hosts, ["a:1", "b:2", "c:3"]);
            }
            other => panic!("not clustered: {other:?}"),
        }
        assert_eq!(config.username.as_deref(), Some("u"));
        assert!(is_cluster("redis-cluster://a:1") && !is_cluster("redis://a:1"));
        assert!(is_cluster("rediss-cluster://a:1") && !is_cluster("a:1"));
    }

    #[test]
    fn nodes_and_credentials_are_read_off_any_form_of_the_url() {
        let n = |url| nodes(url, 6379);
        assert_eq!(
            n("redis://127.0.0.1:6380"),
            [("127.0.0.1".to_owned(), 6380)]
        );
        assert_eq!(n("127.0.0.1:7"), [("127.0.0.1".to_owned(), 7)]);
        assert_eq!(n("redis://u:p@h/0"), [("h".to_owned(), 6379)]);
        assert_eq!(
            n("redis-cluster://u:p@a:1,b:2?x=y"),
            [("a".to_owned(), 1), ("b".to_owned(), 2)]
        );
        assert_eq!(
            with_credentials("redis-cluster://old:pw@a:1,b:2", "auth", "s3"),
            "redis-cluster://auth:s3@a:1,b:2"
        );
        assert_eq!(
            with_credentials("redis://127.0.0.1:6379/0", "kyc", "x"),
            "redis://kyc:x@127.0.0.1:6379/0"
        );
    }
}
