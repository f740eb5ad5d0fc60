use clap::Parser;

/// Walks through every flow of Vestio through the gateway, printing each step.
#[derive(Parser)]
#[command(name = "demo", version)]
struct Cli {
    /// The gateway's base URL.
    #[arg(long, env = "GATEWAY_URL", default_value = "http://127.0.0.1:8080")]
    gateway: String,
    /// An admin's email (`make create-admin`), for the KYC review and invoice steps;
    /// without it they are skipped.
    #[arg(long, env = "ADMIN_EMAIL", requires = "admin_password")]
    admin_email: Option<String>,
    /// That admin's password.
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    println!("Vestio demo against {}\n", cli.gateway);
    let mut demo = demo::Demo::new(&cli.gateway);
    if let (Some(email), Some(password)) = (&cli.admin_email, &cli.admin_password) {
        demo = demo.with_admin(email, password);
    }
    demo.run().await?;
    println!("\nEvery step worked.");
    Ok(())
}
