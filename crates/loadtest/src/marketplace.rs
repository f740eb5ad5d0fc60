//! Marketplace scenario (`--service marketplace`).
//!
//! Seeding goes through the gateway with the admin in `ADMIN_EMAIL` / `ADMIN_PASSWORD`:
//! the invoice scenario's seed (a seller taken through KYC, `--invoices` listed invoices),
//! then `--investors` investors taken through KYC to approval (the demo's own steps; slow,
//! so a few, their tokens shared among the simulated users), then a wait until the
//! marketplace has heard of every listing (`invoice.listed` is asynchronous).
//!
//! The goose scenario: each simulated user acts as investor `user % investors` and loops
//! over viewing a seeded listing (which counts towards trending), trending, and placing an
//! offer that it withdraws at once (`marketplace-offers`: offers only, see
//! [`offer_scenarios`]). An investor has at most one active offer per invoice
//! (a second is a 409), so the users sharing an investor offer on disjoint sets of
//! invoices, one invoice after another.
//!
//! After the run, `redis-benchmark -q -c <users> -n 100000 -t get` on the stack's Redis
//! (`--redis`) puts the figures beside Redis's own from the same run.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use goose::prelude::*;
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinSet;

use crate::auth::weighted;
use crate::invoice;

const VIEW_WEIGHT: usize = 8;
const TRENDING_WEIGHT: usize = 2;
const OFFER_WEIGHT: usize = 2;

/// How long the marketplace may take to hear of every seeded listing.
const LISTING_WAIT: Duration = Duration::from_secs(120);

/// What the seeding made.
pub struct Seed {
    /// The listed invoices, each known to the marketplace.
    pub invoices: Vec<String>,
    /// The approved investors' access tokens (valid 15 minutes: runs are shorter).
    pub investors: Vec<String>,
    /// Users per investor, rounded up: each user sharing an investor has its own slot.
    slots: usize,
    /// The simulated users seeded for.
    users: usize,
}

static SEED: OnceLock<Seed> = OnceLock::new();

/// What [`seed_stack`] made, once it has run.
pub fn seeded() -> Option<&'static Seed> {
    SEED.get()
}

fn seed() -> Result<&'static Seed, Box<TransactionError>> {
    SEED.get()
        .ok_or_else(|| Box::new(TransactionError::from("not seeded")))
}

/// Seeds through the gateway at `gateway` (see the module docs) for `users` simulated
/// users.
pub async fn seed_stack(
    gateway: &str,
    invoices: usize,
    investors: usize,
    users: usize,
) -> anyhow::Result<()> {
    ensure!(investors > 0, "--investors must be at least 1");
    let slots = users.div_ceil(investors);
    ensure!(
        invoices >= slots,
        "--invoices ({invoices}) must be at least --users / --investors ({slots}): the users \
         sharing an investor offer on different invoices"
    );
    let admin = invoice::admin(gateway).await?;
    let listed = invoice::list_invoices(gateway, &admin, invoices).await?;

    println!("seeding: taking {investors} investors through KYC...");
    let mut tasks = JoinSet::new();
    for _ in 0..investors {
        let (base, admin) = (gateway.to_owned(), admin.clone());
        tasks.spawn(async move { demo::approved_investor(&base, &admin).await });
    }
    let mut tokens = Vec::with_capacity(investors);
    while let Some(done) = tasks.join_next().await {
        tokens.push(done??.access);
    }

    println!(
        "seeding: waiting for the marketplace to hear of {} listings...",
        listed.invoices.len()
    );
    wait_listed(gateway, &admin.access, &listed.invoices).await?;
    let _ = SEED.set(Seed {
        invoices: listed.invoices,
        investors: tokens,
        slots,
        users,
    });
    Ok(())
}

/// Polls `GET /api/marketplace/invoices/{id}` until each answers 200.
async fn wait_listed(gateway: &str, token: &str, ids: &[String]) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let deadline = Instant::now() + LISTING_WAIT;
    for id in ids {
        loop {
            let res = client
                .get(format!("{gateway}/api/marketplace/invoices/{id}"))
                .bearer_auth(token)
                .send()
                .await?;
            match res.status().as_u16() {
                200 => break,
                404 if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                404 => bail!(
                    "the marketplace has not heard of invoice {id} after {LISTING_WAIT:?}: is \
                     its consumer running?"
                ),
                other => bail!(
                    "GET /api/marketplace/invoices/{id} answered {other}: {}",
                    res.text().await?
                ),
            }
        }
    }
    Ok(())
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!("Marketplace")
            .register_transaction(transaction!(start).set_name("start").set_on_start())
            .register_transaction(weighted(
                transaction!(view).set_name("view listing"),
                VIEW_WEIGHT,
            ))
            .register_transaction(weighted(
                transaction!(trending).set_name("trending"),
                TRENDING_WEIGHT,
            ))
            .register_transaction(weighted(
                transaction!(offer).set_name("place offer"),
                OFFER_WEIGHT,
            )),
    ]
}

/// goose's key for the placed offers' figures.
pub const PLACE_OFFER: &str = "POST place offer";

/// At most this many users offer on one invoice in `marketplace-offers` (below
/// marketplace's default limit of 20 active offers per invoice).
pub const TEAM: usize = 16;

/// `--service marketplace-offers`: the users only place offers, for the offer path's rate
/// beside pgbench. Users form teams of up to [`TEAM`], each member its own investor; a
/// team owns every `teams`-th invoice and each member walks all of the team's invoices
/// once, from its own starting point, so no investor offers twice on an invoice and no
/// invoice takes more than [`TEAM`] offers. A user that has offered on all of its team's
/// invoices fails its next request (seed more with `--invoices`).
pub fn offer_scenarios() -> Vec<Scenario> {
    vec![
        scenario!("Marketplace offers")
            .register_transaction(transaction!(start).set_name("start").set_on_start())
            .register_transaction(transaction!(place_only).set_name("place offer")),
    ]
}

/// The investors `marketplace-offers` needs for `users` (every member of a team its own).
pub fn offer_investors(users: usize, asked: usize) -> usize {
    asked.max(users.min(TEAM))
}

/// One simulated user: the investor it acts as, and where it is in its invoices.
#[derive(Clone)]
struct Bidder {
    token: String,
    /// Its slot among the users sharing the investor.
    slot: usize,
    /// Offers placed so far.
    round: usize,
}

/// Picks the user's investor and slot (no request).
async fn start(user: &mut GooseUser) -> TransactionResult {
    let seed = seed()?;
    let n = user.weighted_users_index;
    user.set_session_data(Bidder {
        token: seed.investors[n % seed.investors.len()].clone(),
        slot: n / seed.investors.len(),
        round: 0,
    });
    Ok(())
}

fn bidder(user: &mut GooseUser) -> Result<&mut Bidder, Box<TransactionError>> {
    user.get_session_data_mut::<Bidder>()
        .ok_or_else(|| Box::new(TransactionError::from("no investor: start failed")))
}

fn pick<T>(items: &[T]) -> &T {
    // The low bits of a v7 id's random part: cheap and good enough to spread the picks.
    let r = uuid::Uuid::now_v7().as_u128() as usize;
    &items[r % items.len()]
}

async fn get(user: &mut GooseUser, path: &str, name: &str) -> TransactionResult {
    let token = bidder(user)?.token.clone();
    let builder = user
        .get_request_builder(&GooseMethod::Get, path)?
        .bearer_auth(token);
    let request = GooseRequest::builder()
        .method(GooseMethod::Get)
        .path(path)
        .name(name)
        .expect_status_code(200)
        .set_request_builder(builder)
        .build();
    user.request(request).await?;
    Ok(())
}

async fn view(user: &mut GooseUser) -> TransactionResult {
    let path = format!("/api/marketplace/invoices/{}", pick(&seed()?.invoices));
    get(user, &path, "view listing").await
}

async fn trending(user: &mut GooseUser) -> TransactionResult {
    get(user, "/api/marketplace/trending?limit=10", "trending").await
}

#[derive(Deserialize)]
struct Offer {
    id: String,
}

/// Places an offer on the user's next invoice and withdraws it at once. The users sharing
/// an investor walk disjoint invoices (slot, slot + slots, ...), so the investor never
/// has two active offers on one invoice.
async fn place_only(user: &mut GooseUser) -> TransactionResult {
    let seed = seed()?;
    let n = user.weighted_users_index;
    let b = bidder(user)?;
    let team_size = TEAM.min(seed.investors.len());
    let teams = seed.users.div_ceil(team_size);
    let (team, member) = (n / team_size, n % team_size);
    // The team's invoices: team, team + teams, ...
    let owned = (seed.invoices.len() + teams - 1 - team) / teams;
    if b.round >= owned {
        // Every invoice of its team has this user's offer: it idles for the rest of the
        // run (seed more with --invoices for longer runs). An error here would be retried
        // at once, thousands of times a second, and goose keeps every one of them (a run
        // that outlived its invoices grew to 23 GB).
        if b.round == owned {
            b.round += 1;
            eprintln!("a user has offered on every invoice of its team: seed more with --invoices");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        return Ok(());
    }
    let step = (member * owned / team_size + b.round) % owned;
    let index = team + step * teams;
    let rate = format!("{}.{}", 10 + b.round % 15, b.round % 10);
    b.round += 1;
    let token = b.token.clone();
    place(user, &token, &seed.invoices[index], &rate).await?;
    Ok(())
}

/// Places an offer on `invoice` at `rate`; the offer's id if it was placed.
async fn place(
    user: &mut GooseUser,
    token: &str,
    invoice: &str,
    rate: &str,
) -> Result<Option<Offer>, Box<TransactionError>> {
    let body = json!({
        "invoice_id": invoice,
        "discount_rate": rate,
        "expires_in_hours": 1,
    });
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/api/marketplace/offers")?
        .bearer_auth(token)
        .json(&body);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/api/marketplace/offers")
        .name("place offer")
        .expect_status_code(201)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    Ok(match response.response {
        Ok(r) if response.request.success => r.json::<Offer>().await.ok(),
        _ => None,
    })
}

async fn offer(user: &mut GooseUser) -> TransactionResult {
    let seed = seed()?;
    let b = bidder(user)?;
    let per_slot = (seed.invoices.len() / seed.slots).max(1);
    let index = (b.slot + seed.slots * (b.round % per_slot)) % seed.invoices.len();
    let rate = format!("{}.{}", 10 + b.round % 15, b.round % 10);
    b.round += 1;
    let token = b.token.clone();
    let Some(placed) = place(user, &token, &seed.invoices[index], &rate).await? else {
        return Ok(());
    };
    let path = format!("/api/marketplace/offers/{}/withdraw", placed.id);
    let builder = user
        .get_request_builder(&GooseMethod::Post, &path)?
        .bearer_auth(&token);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(path.as_str())
        .name("withdraw")
        .expect_status_code(200)
        .set_request_builder(builder)
        .build();
    user.request(request).await?;
    Ok(())
}

/// `redis-benchmark -q -c <users> -n 200000 -t get` on the stack's Redis at `redis`
/// (HOST:PORT), printed beside the goose figures of the same run.
pub fn redis_benchmark(redis: &str, users: usize) -> anyhow::Result<()> {
    let (host, port) = redis.rsplit_once(':').context("--redis is HOST:PORT")?;
    let port = port.parse().context("--redis is HOST:PORT")?;
    let (_, result) = invoice::redis_get_rps(host, port, users)?;
    let clients = users;
    println!("\nredis-benchmark -q -c {clients} -n 200000 -t get ({redis}, same run): {result}");
    Ok(())
}
