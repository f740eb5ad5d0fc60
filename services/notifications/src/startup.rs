//! The service, as a table of contents: database and Redis, the WebSocket hub, the event
//! consumer, the push worker and the HTTP API.

use std::sync::Arc;

use common::clock::SharedClock;
use common::events::Service;
use service_kit::pubsub::Subscriber;
use service_kit::{Kit, Running};
use utoipa::OpenApi;

use crate::config::NotificationsConfig;
use crate::jobs::push::Provider;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;
use crate::store::migration::Migrator;
use crate::ws::Hub;

/// The running service.
pub type Application = Running<AppState>;

/// The service with the configured push provider.
pub async fn build(config: NotificationsConfig, clock: SharedClock) -> anyhow::Result<Application> {
    let provider = crate::jobs::push::provider(&config.push)?;
    build_with_provider(config, clock, provider).await
}

/// The service pushing through `provider`.
pub async fn build_with_provider(
    config: NotificationsConfig,
    clock: SharedClock,
    provider: Arc<dyn Provider>,
) -> anyhow::Result<Application> {
    let kit = Kit::start::<Migrator>(&config.base, clock).await?;
    // WebSockets never finish by themselves: the hub closes them (1001) as soon as
    // stopping begins, so the server's graceful shutdown does not wait out its timeout.
    let subscriber = Subscriber::connect(&kit.base.redis_url).await?;
    let hub = Hub::start(subscriber, config.ws.buffer, kit.stopping());
    let revocation_check = config.ws.revocation_check;
    let verifier = kit.verifier().await;
    hub.watch_tokens(verifier.clone(), kit.clock.clone(), revocation_check);
    let state = AppState::new(&kit, verifier, hub, config);
    kit.consume_in_batches(
        Service::Notifications,
        crate::inbound::Effects::new(&state),
        state.config.event_batch,
    );
    // One push may take the provider's HTTP timeout.
    let longest_push = state.config.push.timeout();
    kit.run_worker("push", longest_push, &state, move |state, stop| {
        crate::jobs::push::run(state, provider.clone(), stop)
    });
    kit.every(
        "effects",
        crate::jobs::effects::EVERY,
        &state,
        |s| async move { crate::jobs::effects::run_once(&s).await },
    );
    // Connections upgraded to WebSockets leave actix-web's HTTP dispatcher (and its
    // buffers): the session holds only what it uses (ws::socket).
    kit.serve_upgrades(
        ApiDoc::openapi(),
        state,
        service_kit::http::Upgrades::HandedOver,
        routes::mount,
    )
    .await
}

/// The `notifications` binary (its `main` is `service_kit::cli::main::<Binary>()`).
pub struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "notifications";
    const ABOUT: &'static str = "Vestio notifications service";
    const SERVES: &'static str =
        "Serve the HTTP API and WebSocket, the event consumer and the push worker (the default)";
    const SERVICE: Service = Service::Notifications;
    type Config = NotificationsConfig;
    type Migrator = Migrator;
    type Commands = service_kit::cli::NoCommands;
    type State = AppState;

    fn config() -> anyhow::Result<NotificationsConfig> {
        Ok(NotificationsConfig::from_env()?)
    }

    fn base(config: &NotificationsConfig) -> &service_kit::config::BaseConfig {
        &config.base
    }

    async fn build(config: NotificationsConfig, clock: SharedClock) -> anyhow::Result<Application> {
        build(config, clock).await
    }
}
