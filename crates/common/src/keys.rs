//! Every Redis key, channel and queue name of the platform, built in one place.
//!
//! With an empty prefix the names are exactly those of ARCHITECTURE.md (the seed's names).
//! A prefix (tests, several environments on one Redis) is prepended as `prefix:`.
//! `{userId}`-style placeholders in the docs are values, not hash tags. Where several keys
//! meet in one multi-key command or script (a queue and its processing, delayed and dead
//! lists), the helper lists are named `{<queue>}:<suffix>`: Redis hashes only the part in
//! braces, which is the queue's own full name, so they share the queue's slot on Redis
//! Cluster while the queue keeps its seed name. docs/messaging.md lists every name.

use std::fmt::Display;
use std::sync::Arc;

use uuid::Uuid;

/// Time-to-live of each cached or expiring name, in seconds (the seed's values).
pub mod ttl {
    /// `kyc:{userId}`
    pub const KYC_STATUS: u64 = 3600;
    /// `search:invoices:{hash}`
    pub const INVOICE_SEARCH: u64 = 300;
    /// `invoices:popular`
    pub const INVOICES_POPULAR: u64 = 600;
    /// `marketplace:stats`
    pub const MARKETPLACE_STATS: u64 = 300;
    /// `trending:invoices` window (60 one-minute buckets)
    pub const TRENDING_WINDOW: u64 = 3600;
    /// One trending bucket
    pub const TRENDING_BUCKET: u64 = 60;
    /// `{trending:invoices}:top:{minute}:{limit}`: a rendered trending page, for the
    /// minute it was computed in (and only while the `trending` generation holds).
    pub const TRENDING_TOP: u64 = 60;
    /// `marketplace:listing:{invoiceId}`: a listing and its best rate, as a listing view
    /// reads them (only while the listing's generation holds).
    pub const LISTING_CARD: u64 = 300;
    /// `webhook:{webhookId}`
    pub const WEBHOOK_DEDUP: u64 = 86_400;
    /// `admin:dashboard`
    pub const ADMIN_DASHBOARD: u64 = 300;
    /// `admin:users:{period}`
    pub const ADMIN_USERS: u64 = 1800;
    /// `audit:search:{query}`
    pub const AUDIT_SEARCH: u64 = 600;
    /// `push:queued:{notificationId}` (a week: far longer than any notification's effects
    /// stay pending).
    pub const PUSH_QUEUED: u64 = 7 * 86_400;
    /// `notifications:{userId}` keeps this many entries.
    pub const NOTIFICATIONS_KEPT: i64 = 100;
    /// Access tokens live at most this long, so blacklist entries never need to outlive it.
    pub const ACCESS_TOKEN_MAX: u64 = 900;
}

/// A queue (a Redis list) and the names of its helper structures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueName(String);

impl QueueName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    fn aux(&self, suffix: &str) -> String {
        format!("{{{}}}:{suffix}", self.0)
    }
    /// The list a worker moves a job into while it handles it.
    pub fn processing(&self, worker: &str) -> String {
        self.aux(&format!("processing:{worker}"))
    }
    /// Jobs that failed too often, with their last error.
    pub fn dead(&self) -> String {
        self.aux("dead")
    }
    /// Jobs waiting out a retry backoff (sorted set scored by due time in ms).
    pub fn delayed(&self) -> String {
        self.aux("delayed")
    }
    /// Set of the workers that have a processing list.
    pub fn workers(&self) -> String {
        self.aux("workers")
    }
    /// A worker's heartbeat (expires when the worker stops beating).
    pub fn heartbeat(&self, worker: &str) -> String {
        self.aux(&format!("heartbeat:{worker}"))
    }
}

impl Display for QueueName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name builder. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    prefix: Arc<str>,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches(':');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}:")
        };
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn name(&self, name: impl Display) -> String {
        format!("{}{name}", self.prefix)
    }

    fn queue(&self, name: impl Display) -> QueueName {
        QueueName(self.name(name))
    }

    // ---- auth ---------------------------------------------------------------------------

    /// `blacklisted:{jti}`: a logged-out access token, until it would have expired.
    pub fn blacklisted(&self, jti: &str) -> String {
        self.name(format_args!("blacklisted:{jti}"))
    }
    /// `auth:revoked_before:{userId}`: tokens of this user issued before this time (ms) are
    /// refused (suspension, log out everywhere).
    pub fn revoked_before(&self, user_id: Uuid) -> String {
        self.name(format_args!("auth:revoked_before:{user_id}"))
    }
    /// `auth:jwks`: the public signing keys (a JWK set), published by auth for every
    /// verifier.
    pub fn jwks(&self) -> String {
        self.name("auth:jwks")
    }
    /// `ratelimit:{scope}:{subject}`: GCRA state (theoretical arrival time).
    pub fn rate_limit(&self, scope: &str, subject: &str) -> String {
        self.name(format_args!("ratelimit:{scope}:{subject}"))
    }

    // ---- kyc ----------------------------------------------------------------------------

    /// `kyc:{userId}`: the user's KYC status, cached (ttl::KYC_STATUS).
    pub fn kyc_status(&self, user_id: Uuid) -> String {
        self.name(format_args!("kyc:{user_id}"))
    }
    /// `kyc:processing`: document-processing jobs.
    pub fn kyc_processing(&self) -> QueueName {
        self.queue("kyc:processing")
    }
    /// `kyc:processing:high`: high-priority document jobs, taken before `kyc:processing`.
    pub fn kyc_processing_high(&self) -> QueueName {
        self.queue("kyc:processing:high")
    }
    /// Channel `kyc:status:{userId}`.
    pub fn kyc_status_channel(&self, user_id: Uuid) -> String {
        self.name(format_args!("kyc:status:{user_id}"))
    }
    /// Channel `admin:kyc`.
    pub fn admin_kyc_channel(&self) -> String {
        self.name("admin:kyc")
    }

    // ---- invoice ------------------------------------------------------------------------

    /// `search:invoices:{hash}`: a cached search result (ttl::INVOICE_SEARCH). The hash
    /// covers the canonical query, the viewer's scope and the cache generation.
    pub fn invoice_search(&self, hash: &str) -> String {
        self.name(format_args!("search:invoices:{hash}"))
    }
    /// `invoices:popular` (ttl::INVOICES_POPULAR).
    pub fn invoices_popular(&self) -> String {
        self.name("invoices:popular")
    }
    /// Channel `invoice:{invoiceId}`.
    pub fn invoice_channel(&self, invoice_id: Uuid) -> String {
        self.name(format_args!("invoice:{invoice_id}"))
    }

    // ---- marketplace --------------------------------------------------------------------

    /// Channel `seller:{sellerId}`.
    pub fn seller_channel(&self, seller_id: Uuid) -> String {
        self.name(format_args!("seller:{seller_id}"))
    }
    /// Channel `offer:{offerId}`.
    pub fn offer_channel(&self, offer_id: Uuid) -> String {
        self.name(format_args!("offer:{offer_id}"))
    }
    /// `offers:count:{invoiceId}`: active offers on an invoice.
    pub fn offers_count(&self, invoice_id: Uuid) -> String {
        self.name(format_args!("offers:count:{invoice_id}"))
    }
    /// `metrics:offers:{invoiceId}`: offers ever made on an invoice.
    pub fn metrics_offers(&self, invoice_id: Uuid) -> String {
        self.name(format_args!("metrics:offers:{invoice_id}"))
    }
    /// `metrics:total_offers`.
    pub fn metrics_total_offers(&self) -> String {
        self.name("metrics:total_offers")
    }
    /// `marketplace:stats` (ttl::MARKETPLACE_STATS).
    pub fn marketplace_stats(&self) -> String {
        self.name("marketplace:stats")
    }
    /// `trending:invoices`: views over the last hour, the union of the minute buckets.
    pub fn trending(&self) -> String {
        self.name("trending:invoices")
    }
    /// `{trending:invoices}:{minute}`: views in one minute (unix minute number).
    pub fn trending_bucket(&self, minute: i64) -> String {
        format!("{{{}}}:{minute}", self.trending())
    }
    /// `{trending:invoices}:top:{minute}:{limit}`: the rendered top `limit` of the hour
    /// ending in `minute` (ttl::TRENDING_TOP; cache scope `trending`).
    pub fn trending_top(&self, minute: i64, limit: usize) -> String {
        format!("{{{}}}:top:{minute}:{limit}", self.trending())
    }
    /// `marketplace:listing:{invoiceId}`: a listing and its best rate as the listing view
    /// reads them (ttl::LISTING_CARD; cache scope [`Keys::listing_scope`]).
    pub fn listing_card(&self, invoice_id: Uuid) -> String {
        self.name(format_args!("marketplace:listing:{invoice_id}"))
    }
    /// The cache scope of one listing's card (its generation: `cache:gen:listing:{id}`).
    pub fn listing_scope(invoice_id: Uuid) -> String {
        format!("listing:{invoice_id}")
    }
    /// `{trending:invoices}:viewers:{minute}`: set of `user/invoice` pairs seen in one
    /// minute, so one user's repeated views of an invoice within a minute count once.
    pub fn trending_viewers(&self, minute: i64) -> String {
        format!("{{{}}}:viewers:{minute}", self.trending())
    }

    // ---- payments -----------------------------------------------------------------------

    /// `payment:{transactionId}`: hash {status, updated_at}, and the channel of the same name.
    pub fn payment(&self, transaction_id: Uuid) -> String {
        self.name(format_args!("payment:{transaction_id}"))
    }
    /// `webhook:{webhookId}`: processing lease / dedup marker (ttl::WEBHOOK_DEDUP).
    pub fn webhook(&self, webhook_id: &str) -> String {
        self.name(format_args!("webhook:{webhook_id}"))
    }
    pub fn settlements_high(&self) -> QueueName {
        self.queue("settlements:high")
    }
    pub fn settlements_normal(&self) -> QueueName {
        self.queue("settlements:normal")
    }

    // ---- admin --------------------------------------------------------------------------

    /// `admin:dashboard` (ttl::ADMIN_DASHBOARD).
    pub fn admin_dashboard(&self) -> String {
        self.name("admin:dashboard")
    }
    /// `admin:users:{period}` (ttl::ADMIN_USERS).
    pub fn admin_users(&self, period: &str) -> String {
        self.name(format_args!("admin:users:{period}"))
    }
    /// `audit:search:{hash of canonical query}` (ttl::AUDIT_SEARCH).
    pub fn audit_search(&self, hash: &str) -> String {
        self.name(format_args!("audit:search:{hash}"))
    }
    /// Channel `admin:events`: every audit row as it is recorded, live for admins.
    pub fn admin_events_channel(&self) -> String {
        self.name("admin:events")
    }
    /// `audit:head`: the audit chain's head (count, hash), copied outside the admin
    /// database at intervals; only ever moved forward.
    pub fn audit_head(&self) -> String {
        self.name("audit:head")
    }

    // ---- notifications ------------------------------------------------------------------

    /// `notifications:{userId}`: the last ttl::NOTIFICATIONS_KEPT, newest first.
    pub fn notifications(&self, user_id: Uuid) -> String {
        self.name(format_args!("notifications:{user_id}"))
    }
    /// `notifications:{userId}:unread`: the unread counter.
    pub fn notifications_unread(&self, user_id: Uuid) -> String {
        self.name(format_args!("notifications:{user_id}:unread"))
    }
    /// Channel `user:{userId}:notifications`.
    pub fn user_notifications_channel(&self, user_id: Uuid) -> String {
        self.name(format_args!("user:{user_id}:notifications"))
    }
    /// `push:queue`.
    pub fn push_queue(&self) -> QueueName {
        self.queue("push:queue")
    }
    /// `push:queued:{notificationId}`: the notification's push jobs are queued (set with
    /// them; the effects sweep queues none again).
    pub fn push_queued(&self, notification_id: Uuid) -> String {
        self.name(format_args!("push:queued:{notification_id}"))
    }
    /// `notifications:ws_ticket:{ticket}`: a one-time WebSocket ticket (30 s).
    pub fn ws_ticket(&self, ticket: &str) -> String {
        self.name(format_args!("notifications:ws_ticket:{ticket}"))
    }

    // ---- shared plumbing ----------------------------------------------------------------

    /// `events:{service}`: the queue of events a service consumes.
    pub fn events(&self, service: crate::events::Service) -> QueueName {
        self.queue(format_args!("events:{}", service.as_str()))
    }
    /// `cache:gen:{scope}`: a cache generation counter, bumped by every write to the scope.
    pub fn cache_generation(&self, scope: &str) -> String {
        self.name(format_args!("cache:gen:{scope}"))
    }
    /// `outbox:relay:{service}`: the short lease of the outbox relay that is pushing.
    pub fn outbox_relay_lease(&self, service: crate::events::Service) -> String {
        self.name(format_args!("outbox:relay:{}", service.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Service;

    fn id() -> Uuid {
        Uuid::parse_str("0190b6f4-0000-7000-8000-000000000001").unwrap_or_default()
    }

    /// Pins every seed name and TTL to the ARCHITECTURE.md table.
    #[test]
    fn names_without_prefix_are_exactly_the_seed_names() {
        let k = Keys::new("");
        let u = id();
        let cases: Vec<(String, String)> = vec![
            (k.blacklisted("j1"), "blacklisted:j1".into()),
            (k.kyc_status(u), format!("kyc:{u}")),
            (k.kyc_processing().to_string(), "kyc:processing".into()),
            (k.kyc_status_channel(u), format!("kyc:status:{u}")),
            (k.admin_kyc_channel(), "admin:kyc".into()),
            (k.invoice_search("abc"), "search:invoices:abc".into()),
            (k.invoices_popular(), "invoices:popular".into()),
            (k.invoice_channel(u), format!("invoice:{u}")),
            (k.seller_channel(u), format!("seller:{u}")),
            (k.offer_channel(u), format!("offer:{u}")),
            (k.offers_count(u), format!("offers:count:{u}")),
            (k.metrics_offers(u), format!("metrics:offers:{u}")),
            (k.metrics_total_offers(), "metrics:total_offers".into()),
            (k.marketplace_stats(), "marketplace:stats".into()),
            (k.trending(), "trending:invoices".into()),
            (k.payment(u), format!("payment:{u}")),
            (k.webhook("evt_1"), "webhook:evt_1".into()),
            (k.settlements_high().to_string(), "settlements:high".into()),
            (
                k.settlements_normal().to_string(),
                "settlements:normal".into(),
            ),
            (k.admin_dashboard(), "admin:dashboard".into()),
            (k.admin_users("7d"), "admin:users:7d".into()),
            (k.audit_search("h"), "audit:search:h".into()),
            (k.audit_head(), "audit:head".into()),
            (k.admin_events_channel(), "admin:events".into()),
            (k.notifications(u), format!("notifications:{u}")),
            (
                k.notifications_unread(u),
                format!("notifications:{u}:unread"),
            ),
            (
                k.user_notifications_channel(u),
                format!("user:{u}:notifications"),
            ),
            (k.push_queue().to_string(), "push:queue".into()),
            (k.push_queued(u), format!("push:queued:{u}")),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn ttls_are_the_seed_ttls() {
        assert_eq!(ttl::KYC_STATUS, 3600);
        assert_eq!(ttl::INVOICE_SEARCH, 300);
        assert_eq!(ttl::INVOICES_POPULAR, 600);
        assert_eq!(ttl::MARKETPLACE_STATS, 300);
        assert_eq!(ttl::TRENDING_WINDOW, 3600);
        assert_eq!(ttl::WEBHOOK_DEDUP, 86_400);
        assert_eq!(ttl::ADMIN_DASHBOARD, 300);
        assert_eq!(ttl::ADMIN_USERS, 1800);
        assert_eq!(ttl::AUDIT_SEARCH, 600);
        assert_eq!(ttl::NOTIFICATIONS_KEPT, 100);
        assert_eq!(ttl::ACCESS_TOKEN_MAX, 900);
    }

    #[test]
    fn a_prefix_is_prepended_to_every_name() {
        let k = Keys::new("t42");
        assert_eq!(k.blacklisted("j"), "t42:blacklisted:j");
        assert_eq!(k.events(Service::Admin).to_string(), "t42:events:admin");
        assert_eq!(Keys::new("t42:").blacklisted("j"), "t42:blacklisted:j");
    }

    /// Redis Cluster hashes the part in braces; the queue's helper lists must hash exactly
    /// like the queue's own (brace-less) name so BLMOVE and the scripts stay in one slot.
    #[test]
    fn queue_helper_lists_share_the_queue_hash_slot() {
        fn tag(key: &str) -> &str {
            match (key.find('{'), key.find('}')) {
                (Some(a), Some(b)) if b > a + 1 => &key[a + 1..b],
                _ => key,
            }
        }
        let q = Keys::new("p").kyc_processing();
        for aux in [
            q.processing("w1"),
            q.dead(),
            q.delayed(),
            q.workers(),
            q.heartbeat("w1"),
        ] {
            assert_eq!(tag(&aux), tag(q.as_str()), "{aux}");
        }
        let k = Keys::new("");
        assert_eq!(tag(&k.trending_bucket(5)), tag(&k.trending()));
        assert_eq!(tag(&k.trending_viewers(5)), tag(&k.trending()));
        assert_ne!(k.trending_viewers(5), k.trending_bucket(5));
        assert_eq!(tag(&k.trending_top(5, 10)), tag(&k.trending()));
        assert_ne!(k.trending_top(5, 10), k.trending_bucket(5));
    }
}
