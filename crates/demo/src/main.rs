use clap::Parser;

/// Walks through every flow of Vestio through the gateway, printing each step.
#[derive(Parser)]
#[command(name = "demo", version)]
struct Cli {
    /// The gateway's base URL.
    #[arg(long, env = "GATEWAY_URL", default_value = "http://127.0.0.1:8080")]
    gateway: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    println!("Vestio demo against {}\n", cli.gateway);
    demo::Demo::new(&cli.gateway).run().await?;
    println!("\nEvery step worked.");
    Ok(())
}
