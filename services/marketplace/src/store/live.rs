//! Redis side effects after a commit: live messages, the offer counters and trending.
//! Every name comes from `common::keys::Keys`. All of it is a view of the database:
//! failures are logged, and a counter that is missing (Redis restarted, key evicted) is
//! rebuilt from the database the next time it moves or is read.

use common::keys::ttl;
use fred::prelude::{KeysInterface, PubsubInterface, SetsInterface, SortedSetsInterface};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::OfferStatus;
use crate::state::AppState;
use crate::store::entity::offer;

/// Active (pending or reserved) offers on an invoice, from the database.
pub async fn active_count(state: &AppState, invoice_id: Uuid) -> Result<i64, sea_orm::DbErr> {
    let active: Vec<&str> = OfferStatus::ACTIVE.iter().map(|s| s.as_str()).collect();
    let n = offer::Entity::find()
        .filter(offer::Column::InvoiceId.eq(invoice_id))
        .filter(offer::Column::Status.is_in(active))
        .count(&state.db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

async fn placed_count(state: &AppState, invoice_id: Option<Uuid>) -> Result<i64, sea_orm::DbErr> {
    let mut q = offer::Entity::find();
    if let Some(id) = invoice_id {
        q = q.filter(offer::Column::InvoiceId.eq(id));
    }
    let n = q.count(&state.db).await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `INCRBY` only if the counter exists (nil otherwise), so a missing counter is rebuilt
/// from the database instead of restarting from 0.
static INCR_IF_EXISTS: std::sync::LazyLock<service_kit::redis::Lua> =
    std::sync::LazyLock::new(|| {
        service_kit::redis::Lua::new(
            "if redis.call('EXISTS', KEYS[1]) == 1 then \
             return redis.call('INCRBY', KEYS[1], ARGV[1]) else return false end",
        )
    });

/// Sets a missing counter to the database's figure (`SET NX`: a concurrent rebuild or
/// increment that got there first wins) and answers that figure. Single-flight: callers
/// that find the same counter missing at once share one database read. The sweep's
/// catch-up ([`crate::jobs::sweep::catch_up`]) corrects a rebuild that read the database
/// between a writer's commit and its increment.
async fn rebuilt(state: &AppState, counter: Counter) -> Result<i64, String> {
    let key = counter.key(state);
    state
        .rebuilds
        .run(&key, || async {
            let truth = counter.truth(state).await.map_err(|e| e.to_string())?;
            let _: Option<String> = state
                .redis
                .set(&key, truth, None, Some(fred::types::SetOptions::NX), false)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(
                to = truth,
                "Missing offer counter rebuilt from the database."
            );
            Ok(truth)
        })
        .await
}

/// [`rebuilt`], with a failure logged (the counter stays missing and is rebuilt later).
async fn rebuild(state: &AppState, counter: Counter) {
    if let Err(error) = rebuilt(state, counter).await {
        tracing::warn!(%error, "Offer counter not rebuilt.");
    }
}

/// A counter that committed changes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// `offers:count:{invoiceId}`: the invoice's active offers.
    Active(Uuid),
    /// `metrics:offers:{invoiceId}`: offers ever placed on the invoice.
    Placed(Uuid),
    /// `metrics:total_offers`: offers ever placed.
    Total,
}

impl Counter {
    fn key(self, state: &AppState) -> String {
        match self {
            Counter::Active(id) => state.keys.offers_count(id),
            Counter::Placed(id) => state.keys.metrics_offers(id),
            Counter::Total => state.keys.metrics_total_offers(),
        }
    }

    /// The counter's figure from the database.
    pub async fn truth(self, state: &AppState) -> Result<i64, sea_orm::DbErr> {
        match self {
            Counter::Active(id) => active_count(state, id).await,
            Counter::Placed(id) => placed_count(state, Some(id)).await,
            Counter::Total => placed_count(state, None).await,
        }
    }
}

/// What follows committed changes on the Redis side, sent in one round trip by
/// [`Follow::send`]: the touched listings' cards and the trending pages marked stale, the
/// counters moved (`INCRBY` only if the counter exists: one found missing is rebuilt from
/// the database afterwards) and the live messages published. Failures are logged: the
/// changes themselves have happened.
#[derive(Default)]
pub struct Follow {
    invoices: Vec<Uuid>,
    moves: Vec<(Counter, i64)>,
    messages: Vec<(String, fred::bytes::Bytes)>,
}

impl Follow {
    /// Listing `invoice_id` changed (its status or offers): its card is stale.
    pub fn touched(&mut self, invoice_id: Uuid) -> &mut Self {
        self.invoices.push(invoice_id);
        self
    }

    /// `counter` moves by `delta`.
    pub fn count(&mut self, counter: Counter, delta: i64) -> &mut Self {
        self.moves.push((counter, delta));
        self
    }

    /// `message` goes out as JSON on `channel` (lossy: subscribers away miss it).
    pub fn publish(&mut self, channel: String, message: &impl Serialize) -> &mut Self {
        match serde_json::to_vec(message) {
            Ok(json) => self.messages.push((channel, json.into())),
            Err(error) => tracing::error!(%error, channel, "Live message not serialised."),
        }
        self
    }

    /// Sends it all in one pipeline; then rebuilds any counter found missing.
    pub async fn send(mut self, state: &AppState) {
        self.invoices.sort_unstable();
        self.invoices.dedup();
        let mut scopes: Vec<String> = self
            .invoices
            .iter()
            .map(|id| common::keys::Keys::listing_scope(*id))
            .collect();
        scopes.push(TRENDING_SCOPE.to_owned());
        let moved: Result<Vec<fred::types::Value>, fred::error::Error> = async {
            // The pool's client, not the worker thread's: background jobs send too.
            let pipeline = state.redis.next().pipeline();
            // The counters first: their answers lead.
            for (counter, delta) in &self.moves {
                // One key per script, so each stays single-slot on Redis Cluster.
                INCR_IF_EXISTS
                    .queue(&pipeline, vec![counter.key(state)], vec![delta.to_string()])
                    .await?;
            }
            for scope in &scopes {
                state.cache.queue_invalidate(&pipeline, scope).await?;
            }
            for (channel, payload) in self.messages {
                let () = pipeline.publish(channel, payload).await?;
            }
            pipeline.all().await
        }
        .await;
        let answers = match moved {
            Ok(answers) => answers,
            Err(error) => {
                // Cards and pages expire by their TTLs; the counters are rebuilt when
                // found missing; until then readers may see the old figures.
                tracing::warn!(%error, "Listing changes not followed in Redis.");
                return;
            }
        };
        for ((counter, _), answer) in self.moves.iter().zip(answers) {
            if answer.is_null() {
                rebuild(state, *counter).await;
            }
        }
    }
}

/// A new listing's counters start at the database's figures (normally 0), so the first
/// offers increment rather than race to rebuild them.
pub async fn init_counters(state: &AppState, invoice_id: Uuid) {
    rebuild(state, Counter::Active(invoice_id)).await;
    rebuild(state, Counter::Placed(invoice_id)).await;
}

/// The counters of an invoice as Redis has them, rebuilding any that is missing:
/// (active offers, offers ever placed).
pub async fn counters(state: &AppState, invoice_id: Uuid) -> anyhow::Result<(i64, i64)> {
    let active_key = state.keys.offers_count(invoice_id);
    let placed_key = state.keys.metrics_offers(invoice_id);
    let (active, placed): (Option<i64>, Option<i64>) = (
        state.redis.get(&active_key).await?,
        state.redis.get(&placed_key).await?,
    );
    let active = match active {
        Some(n) => n,
        None => rebuilt(state, Counter::Active(invoice_id))
            .await
            .map_err(anyhow::Error::msg)?,
    };
    let placed = match placed {
        Some(n) => n,
        None => rebuilt(state, Counter::Placed(invoice_id))
            .await
            .map_err(anyhow::Error::msg)?,
    };
    Ok((active, placed))
}

/// The counters of each of `invoices` (active offers, offers ever placed) in one round
/// trip; an invoice with a counter missing is read (and rebuilt) on its own.
pub async fn counters_of(state: &AppState, invoices: &[Uuid]) -> anyhow::Result<Vec<(i64, i64)>> {
    if invoices.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = state.redis.next().pipeline();
    for id in invoices {
        let () = pipeline.get(state.keys.offers_count(*id)).await?;
        let () = pipeline.get(state.keys.metrics_offers(*id)).await?;
    }
    let read: Vec<Option<i64>> = pipeline.all().await?;
    let mut all = Vec::with_capacity(invoices.len());
    for (id, pair) in invoices.iter().zip(read.chunks(2)) {
        all.push(match pair {
            [Some(active), Some(placed)] => (*active, *placed),
            _ => counters(state, *id).await?,
        });
    }
    Ok(all)
}

/// The unix minute of the injected clock.
pub fn minute(state: &AppState) -> i64 {
    state.clock.now().timestamp().div_euclid(60)
}

/// The cache scope of the rendered trending pages: bumped by every view that counts and
/// after every committed change of listings or offers (what a page shows).
pub const TRENDING_SCOPE: &str = "trending";

/// Queues the first half of counting a view by `user` of `invoice_id` towards trending
/// (two answers: whether the pair is new this minute, and the expiry's): `SADD` on the
/// minute's viewer set, so a user's views of an invoice count at most once a minute.
/// Sent with the view's own reads; [`count_view`] finishes a new pair.
pub async fn queue_view(
    state: &AppState,
    pipeline: &fred::clients::Pipeline<fred::clients::Client>,
    minute: i64,
    user: Uuid,
    invoice_id: Uuid,
) -> Result<(), fred::error::Error> {
    let viewers = state.keys.trending_viewers(minute);
    let () = pipeline
        .sadd(&viewers, format!("{user}/{invoice_id}"))
        .await?;
    let () = pipeline
        .expire(&viewers, 2 * ttl::TRENDING_BUCKET as i64, None)
        .await?;
    Ok(())
}

/// A new (user, invoice, minute) view of a listed invoice: into the minute's bucket (and
/// its expiry), and the rendered trending pages are stale. One round trip.
pub async fn count_view(state: &AppState, minute: i64, invoice_id: Uuid) {
    let bucket = state.keys.trending_bucket(minute);
    let result: Result<(), fred::error::Error> = async {
        let pipeline = state.redis.next().pipeline();
        let () = pipeline
            .zincrby(&bucket, 1.0, invoice_id.to_string())
            .await?;
        let () = pipeline
            .expire(
                &bucket,
                (ttl::TRENDING_WINDOW + ttl::TRENDING_BUCKET) as i64,
                None,
            )
            .await?;
        state
            .cache
            .queue_invalidate(&pipeline, TRENDING_SCOPE)
            .await?;
        let _: Vec<fred::types::Value> = pipeline.all().await?;
        Ok(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, %invoice_id, "View not counted for trending.");
    }
}

/// After committed changes of the listings `invoices` (their status, their offers): their
/// cards and the rendered trending pages are stale. One round trip.
pub async fn changed(state: &AppState, invoices: impl IntoIterator<Item = Uuid>) {
    let mut follow = Follow::default();
    for id in invoices {
        follow.touched(id);
    }
    follow.send(state).await;
}

/// Unions the last 60 minute buckets into `trending:invoices` and returns its top
/// `fetch` (invoice, views), most viewed first.
pub async fn trending(state: &AppState, fetch: i64) -> anyhow::Result<Vec<(Uuid, i64)>> {
    let m = minute(state);
    let buckets = (ttl::TRENDING_WINDOW / ttl::TRENDING_BUCKET) as i64;
    let keys: Vec<String> = (0..buckets)
        .map(|i| state.keys.trending_bucket(m - i))
        .collect();
    let dest = state.keys.trending();
    // One round trip: union, expiry, top.
    let pipeline = state.redis.next().pipeline();
    let _: () = pipeline.zunionstore(&dest, keys, None::<f64>, None).await?;
    let _: () = pipeline
        .expire(&dest, ttl::TRENDING_WINDOW as i64, None)
        .await?;
    let _: () = pipeline
        .zrange(&dest, 0, fetch - 1, None, true, None, true)
        .await?;
    let (_, _, top): (i64, i64, Vec<(String, f64)>) = pipeline.all().await?;
    Ok(top
        .into_iter()
        .filter_map(|(id, score)| Some((id.parse().ok()?, score.round() as i64)))
        .collect())
}

/// The counters' figures of `invoices` from the database, in one grouped query:
/// (invoice, active offers, offers ever placed). An invoice without offers has none.
pub async fn figures_of(
    state: &AppState,
    invoices: &[Uuid],
) -> Result<Vec<(Uuid, i64, i64)>, sea_orm::DbErr> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{QuerySelect, sea_query::Func};
    let active: Vec<String> = OfferStatus::ACTIVE
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    let active_sum = Expr::cust(format!(
        "CAST(SUM(CASE WHEN status IN ({}) THEN 1 ELSE 0 END) AS BIGINT)",
        active.join(", ")
    ));
    offer::Entity::find()
        .select_only()
        .column(offer::Column::InvoiceId)
        .expr(active_sum)
        .expr(Func::count(Expr::col(offer::Column::Id)))
        .filter(offer::Column::InvoiceId.is_in(invoices.iter().copied()))
        .group_by(offer::Column::InvoiceId)
        .into_tuple()
        .all(&state.db)
        .await
}

/// Sets the counters of each of `figures` (invoice, active, placed) to the database's
/// figures and marks their cards and the trending pages stale, in one round trip: what a
/// process that died between a commit and its [`Follow`] left undone. `total` (offers ever
/// placed, all invoices) is set too when given.
pub async fn reconcile(
    state: &AppState,
    invoices: &[Uuid],
    figures: &[(Uuid, i64, i64)],
    total: Option<i64>,
) -> Result<(), fred::error::Error> {
    let pipeline = state.redis.next().pipeline();
    let mut sets: Vec<(String, i64)> = Vec::with_capacity(2 * invoices.len() + 1);
    let mut counted = std::collections::HashSet::new();
    for (id, active, placed) in figures {
        counted.insert(*id);
        sets.push((state.keys.offers_count(*id), *active));
        sets.push((state.keys.metrics_offers(*id), *placed));
    }
    // Listings without any offer: their counters are 0.
    for id in invoices.iter().filter(|id| !counted.contains(id)) {
        sets.push((state.keys.offers_count(*id), 0));
        sets.push((state.keys.metrics_offers(*id), 0));
    }
    if let Some(total) = total {
        sets.push((state.keys.metrics_total_offers(), total));
    }
    for (key, n) in sets {
        let () = pipeline.set(key, n, None, None, false).await?;
    }
    for id in invoices {
        state
            .cache
            .queue_invalidate(&pipeline, &common::keys::Keys::listing_scope(*id))
            .await?;
    }
    state
        .cache
        .queue_invalidate(&pipeline, TRENDING_SCOPE)
        .await?;
    let _: Vec<fred::types::Value> = pipeline.all().await?;
    Ok(())
}
