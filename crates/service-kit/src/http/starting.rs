//! A service's socket, bound before anything else, answering while the service starts.
//!
//! A service that waits on Redis (unreachable, or `LOADING` a large dataset after a
//! restart) must still answer its probes: `/healthz` 200 (alive: a kubelet that sees no
//! answer restarts the pod, which only starts the wait over) and `/readyz` 503 (not ready:
//! no traffic yet). Every other request gets a 503 problem with `Retry-After`. Once the
//! service is built, [`super::serve`] stops this stand-in and serves on the same socket:
//! connections that arrive in between wait in the kernel's backlog, none is refused.

use std::sync::{Arc, Mutex};

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use super::Problem;
use super::health::HealthStatus;
use crate::config::BaseConfig;

/// What the service is waiting for, for `/readyz` and the 503s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    RedisDown,
    RedisLoading,
}

/// The bound socket and the stand-in server answering on it until [`super::serve`].
pub struct Starting {
    listener: std::net::TcpListener,
    port: u16,
    phase: Arc<Mutex<Phase>>,
    handle: ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Starting {
    /// Binds `base.host:base.port` (port 0: any free one) and answers there at once.
    pub fn bind(base: &BaseConfig) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind((base.host.as_str(), base.port))
            .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", base.host, base.port))?;
        let port = listener.local_addr()?.port();
        let phase = Arc::new(Mutex::new(Phase::Starting));
        let state = web::Data::new(phase.clone());
        let server: Server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener.try_clone()?)?
        .run();
        let handle = server.handle();
        Ok(Self {
            listener,
            port,
            phase,
            handle,
            server: tokio::spawn(server),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits until Redis at `url` answers `PONG` (see [`crate::redis::until_ready`]),
    /// saying what it waits for on `/readyz` and in the 503s meanwhile.
    pub async fn wait_for_redis(&self, url: &str) {
        crate::redis::until_ready(url, |why| {
            let phase = match why {
                crate::redis::NotReady::Loading => Phase::RedisLoading,
                _ => Phase::RedisDown,
            };
            if let Ok(mut p) = self.phase.lock() {
                *p = phase;
            }
        })
        .await;
        if let Ok(mut p) = self.phase.lock() {
            *p = Phase::Starting;
        }
    }

    /// Stops the stand-in and hands over the socket.
    pub async fn into_listener(self) -> std::net::TcpListener {
        self.handle.stop(true).await;
        let _ = self.server.await;
        self.listener
    }
}

async fn answer(req: HttpRequest, phase: web::Data<Arc<Mutex<Phase>>>) -> HttpResponse {
    let phase = phase.lock().map(|p| *p).unwrap_or(Phase::Starting);
    let redis = match phase {
        Phase::Starting => None,
        Phase::RedisDown => Some("down"),
        Phase::RedisLoading => Some("loading"),
    };
    match req.path() {
        "/healthz" => HttpResponse::Ok().json(HealthStatus {
            status: "ok",
            redis: None,
            database: None,
            tasks: None,
        }),
        "/readyz" => HttpResponse::ServiceUnavailable().json(HealthStatus {
            status: "starting",
            redis,
            database: None,
            tasks: None,
        }),
        _ => {
            let detail = match phase {
                Phase::RedisLoading => "the service is starting: Redis is loading its dataset",
                Phase::RedisDown => "the service is starting: Redis is not reachable yet",
                Phase::Starting => "the service is starting",
            };
            let mut res = Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail).response();
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(super::problem::RETRY_AFTER_UNAVAILABLE),
            );
            res
        }
    }
}
