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
    /// Instead of the walk-through: N rounds of a seller's accept racing six revisions of
    /// the offer (needs the admin); fails unless every accept got the terms it named.
    #[arg(long, value_name = "N", requires = "admin_email")]
    race_accept: Option<usize>,
    /// Instead of the walk-through: log the admin in, make a KYC-approved seller and
    /// investor, and print their access tokens as `ADMIN_TOKEN=...`, `SELLER_TOKEN=...`,
    /// `INVESTOR_TOKEN=...` lines (what `make conformance` runs with).
    #[arg(long, requires = "admin_email", conflicts_with = "race_accept")]
    fixtures: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.fixtures {
        let (Some(email), Some(password)) = (&cli.admin_email, &cli.admin_password) else {
            anyhow::bail!("--fixtures needs ADMIN_EMAIL and ADMIN_PASSWORD");
        };
        let admin = demo::login(&cli.gateway, email, password).await?;
        let seller = demo::approved_seller(&cli.gateway, &admin).await?;
        let investor = demo::approved_investor(&cli.gateway, &admin).await?;
        println!("ADMIN_TOKEN={}", admin.access);
        println!("SELLER_TOKEN={}", seller.access);
        println!("INVESTOR_TOKEN={}", investor.access);
        return Ok(());
    }
    println!("Vestio demo against {}\n", cli.gateway);
    let mut demo = demo::Demo::new(&cli.gateway);
    if let (Some(email), Some(password)) = (&cli.admin_email, &cli.admin_password) {
        demo = demo.with_admin(email, password);
    }
    if let Some(rounds) = cli.race_accept {
        demo.accept_race(rounds).await?;
        return Ok(());
    }
    demo.run().await?;
    println!("\nEvery step worked.");
    Ok(())
}
