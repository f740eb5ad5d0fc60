//! `sandbox-provider`: serves the sandbox until SIGINT or SIGTERM.
//! `sandbox-provider generate-secret` prints a new `whsec_...` webhook secret.

use sandbox_provider::{Sandbox, SandboxConfig};
use service_kit::webhooks::WebhookSecret;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("generate-secret") {
        println!("{}", WebhookSecret::generate().encode());
        return Ok(());
    }
    let _telemetry = service_kit::telemetry::init("sandbox-provider");
    let config = SandboxConfig::from_env()?;
    tracing::info!(?config, "Configuration read.");
    let sandbox = Sandbox::start(config, common::clock::system()).await?;
    tracing::info!(
        url = %sandbox.url(),
        public_url = sandbox.public_url(),
        "sandbox-provider listening on {}.",
        sandbox.url()
    );
    service_kit::shutdown::signal().await;
    sandbox.stop().await;
    Ok(())
}
