//! One Redis user per service (Redis ACL), generated from the key schema of [`Keys`] and
//! the event catalogue: a service may touch its own keys, read the token verifier's
//! (`auth:jwks`, `blacklisted:*`, `auth:revoked_before:*`), push onto the queues of the
//! services it sends events to (write only), use its own consumer queue, and publish or
//! subscribe on its own channels. No dangerous command (`FLUSHALL`, `CONFIG`, `KEYS`,
//! `DEBUG`, `SCAN`, ...) for anyone but the operator; the default user may only `PING`.
//!
//! `acl_file` renders the whole file (`redis-server --aclfile`); [`Grants::rules`] the
//! rules of one user (for `ACL SETUSER`, as tests apply them to a shared Redis under their
//! own prefix and user names). docs/messaging.md, "Redis users".

use sha2::{Digest, Sha256};

use crate::events::{CATALOGUE, Service};
use crate::keys::{Keys, QueueName};

/// What every service user may run: reads, writes, pub/sub, scripts, blocking list moves
/// and the connection commands, minus Redis's dangerous category (`FLUSHALL`, `KEYS`,
/// `CONFIG`, `DEBUG`, `SHUTDOWN`, `CLIENT KILL`, `MONITOR`, `ACL`, ...) and what walks or
/// wipes a keyspace; plus `INFO` (the outbox relay reads `run_id`), `TIME` (queue
/// scripts) and the `CLUSTER` subcommands a cluster client routes with.
pub const SERVICE_COMMANDS: &[&str] = &[
    "-@all",
    "+@read",
    "+@write",
    "+@pubsub",
    "+@scripting",
    "+@connection",
    "+@blocking",
    "-@dangerous",
    "+info",
    "+time",
    "+cluster|info",
    "+cluster|slots",
    "+cluster|shards",
    "-scan",
    "-randomkey",
    "-script|flush",
    "-script|kill",
    "-function",
];

/// The operator's user name (every key, channel and command: tools, load tests).
pub const OPERATOR: &str = "operator";

/// What one service's user may touch. Patterns are Redis globs with the key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    pub service: Service,
    /// Keys it reads and writes (`~pattern`): its own, its queues.
    pub keys: Vec<String>,
    /// Keys it only reads (`%R~pattern`): the token verifier's.
    pub read: Vec<String>,
    /// Keys it only writes (`%W~pattern`): the event queues of the services it sends to.
    pub write: Vec<String>,
    /// Channels it publishes or subscribes on (`&pattern`).
    pub channels: Vec<String>,
}

/// `text` with Redis glob's special characters escaped (a prefix is literal).
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The services `service` sends events to (from the catalogue), in the catalogue's order.
pub fn sends_to(service: Service) -> Vec<Service> {
    let mut to = Vec::new();
    for event in CATALOGUE.iter().filter(|e| e.producer == service) {
        for consumer in event.consumers {
            if !to.contains(consumer) {
                to.push(*consumer);
            }
        }
    }
    to
}

/// Whether some event of the catalogue is consumed by `service`.
pub fn consumes_events(service: Service) -> bool {
    CATALOGUE.iter().any(|e| e.consumers.contains(&service))
}

impl Grants {
    /// The grants of `service` under `keys`' prefix.
    pub fn of(keys: &Keys, service: Service) -> Self {
        let p = literal(keys.prefix());
        let own = |patterns: &[&str]| -> Vec<String> {
            patterns.iter().map(|s| format!("{p}{s}")).collect()
        };
        // A name and the keys hash-tagged with it: a queue and its helper lists, the
        // trending window and its buckets.
        let tagged = |name: &str| -> [String; 2] {
            let name = literal(name);
            [name.clone(), format!("{{{name}}}:*")]
        };
        let queue = |q: QueueName| tagged(q.as_str());
        let (mut owned, channels): (Vec<String>, Vec<String>) = match service {
            Service::Auth => (
                own(&[
                    "auth:jwks",
                    "blacklisted:*",
                    "auth:revoked_before:*",
                    "ratelimit:auth-ip:*",
                    "ratelimit:auth-login:*",
                ]),
                vec![],
            ),
            Service::Kyc => {
                let mut k = own(&["kyc:*", "ratelimit:kyc-upload:*"]);
                k.extend(queue(keys.kyc_processing()));
                k.extend(queue(keys.kyc_processing_high()));
                (k, own(&["kyc:status:*", "admin:kyc"]))
            }
            Service::Invoice => (
                own(&[
                    "cache:gen:invoices",
                    "cache:gen:invoices.*",
                    "search:invoices:*",
                    "invoices:popular",
                ]),
                own(&["invoice:*"]),
            ),
            Service::Marketplace => {
                let mut k = own(&[
                    "offers:count:*",
                    "metrics:offers:*",
                    "metrics:total_offers",
                    "marketplace:*",
                    "cache:gen:listing:*",
                    "cache:gen:trending",
                ]);
                k.extend(tagged(&keys.trending()));
                (k, own(&["seller:*", "offer:*"]))
            }
            Service::Payments => {
                let mut k = own(&["payment:*", "webhook:*"]);
                k.extend(queue(keys.settlements_high()));
                k.extend(queue(keys.settlements_normal()));
                (k, own(&["payment:*"]))
            }
            Service::Admin => (
                own(&[
                    "audit:*",
                    "admin:dashboard",
                    "admin:users:*",
                    "cache:gen:audit",
                    "cache:gen:dashboard",
                    "cache:gen:users",
                ]),
                own(&["admin:events"]),
            ),
            Service::Notifications => {
                let mut k = own(&["notifications:*", "push:queued:*"]);
                k.extend(queue(keys.push_queue()));
                // The WebSocket hub follows these for its users.
                let channels = own(&[
                    "user:*:notifications",
                    "seller:*",
                    "invoice:*",
                    "offer:*",
                    "payment:*",
                    "kyc:status:*",
                    "admin:kyc",
                    "admin:events",
                ]);
                (k, channels)
            }
        };
        if consumes_events(service) {
            owned.extend(queue(keys.events(service)));
        }
        let to = sends_to(service);
        if !to.is_empty() {
            owned.push(literal(&keys.outbox_relay_lease(service)));
        }
        let write = to
            .into_iter()
            .map(|consumer| literal(keys.events(consumer).as_str()))
            .collect();
        let read = if service == Service::Auth {
            vec![]
        } else {
            own(&["auth:jwks", "blacklisted:*", "auth:revoked_before:*"])
        };
        Self {
            service,
            keys: owned,
            read,
            write,
            channels,
        }
    }

    /// The user's rules after its password: `on resetkeys resetchannels ~.. %R~.. %W~..
    /// &.. <commands>`.
    pub fn rules(&self) -> Vec<String> {
        let mut rules: Vec<String> = ["on", "resetkeys", "resetchannels"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        rules.extend(self.keys.iter().map(|k| format!("~{k}")));
        rules.extend(self.read.iter().map(|k| format!("%R~{k}")));
        rules.extend(self.write.iter().map(|k| format!("%W~{k}")));
        rules.extend(self.channels.iter().map(|c| format!("&{c}")));
        rules.extend(SERVICE_COMMANDS.iter().map(|c| (*c).to_owned()));
        rules
    }
}

/// `#<hex sha256>`: a password as an ACL file holds it.
pub fn password_hash(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    let mut hex = String::with_capacity(65);
    hex.push('#');
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The default user's rules: `PING` only, with no password (health checks).
pub const DEFAULT_USER: &[&str] = &[
    "on",
    "nopass",
    "resetkeys",
    "resetchannels",
    "-@all",
    "+ping",
];

/// The ACL file of the platform under `keys`' prefix: the default user (PING only), the
/// operator (everything) and one user per service named as the service, each with the
/// password `password_of(user)` (stored hashed).
pub fn acl_file(keys: &Keys, password_of: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    // (An ACL file has no comments: every line is a user.)
    out.push_str(&format!("user default {}\n", DEFAULT_USER.join(" ")));
    out.push_str(&format!(
        "user {OPERATOR} on {} ~* &* +@all\n",
        password_hash(&password_of(OPERATOR))
    ));
    for service in Service::ALL {
        let grants = Grants::of(keys, service);
        out.push_str(&format!(
            "user {} {} {}\n",
            service.as_str(),
            password_hash(&password_of(service.as_str())),
            grants.rules().join(" ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// Redis's glob for what the patterns use: `*`, and `\` escapes.
    fn glob(pattern: &str, text: &str) -> bool {
        fn go(p: &[char], t: &[char]) -> bool {
            match p.first() {
                None => t.is_empty(),
                Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
                Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
                Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
            }
        }
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        go(&p, &t)
    }

    fn may_write(g: &Grants, key: &str) -> bool {
        g.keys.iter().chain(&g.write).any(|p| glob(p, key))
    }
    fn may_read(g: &Grants, key: &str) -> bool {
        g.keys.iter().chain(&g.read).any(|p| glob(p, key))
    }
    fn may_use_channel(g: &Grants, channel: &str) -> bool {
        g.channels.iter().any(|p| glob(p, channel))
    }

    /// Every name of the key schema is granted to the service that owns it, and to no
    /// other for writing (event queues aside: producers push onto them).
    #[test]
    fn every_key_belongs_to_its_owner_and_to_no_other_writer() {
        let keys = Keys::new("t1");
        let id = Uuid::now_v7();
        use Service::*;
        let owned: Vec<(Service, String)> = vec![
            (Auth, keys.blacklisted("jti")),
            (Auth, keys.revoked_before(id)),
            (Auth, keys.jwks()),
            (Auth, keys.rate_limit("auth-ip", "1.2.3.4")),
            (Auth, keys.rate_limit("auth-login", "x")),
            (Kyc, keys.rate_limit("kyc-upload", "x")),
            (Kyc, keys.kyc_status(id)),
            (Kyc, keys.kyc_processing().to_string()),
            (Kyc, keys.kyc_processing().processing("w1")),
            (Kyc, keys.kyc_processing_high().dead()),
            (Invoice, keys.invoice_search("h")),
            (Invoice, keys.invoices_popular()),
            (Invoice, keys.cache_generation("invoices")),
            (Invoice, keys.cache_generation("invoices.listed")),
            (
                Invoice,
                keys.cache_generation(&format!("invoices.seller.{id}")),
            ),
            (Marketplace, keys.offers_count(id)),
            (Marketplace, keys.metrics_offers(id)),
            (Marketplace, keys.metrics_total_offers()),
            (Marketplace, keys.marketplace_stats()),
            (Marketplace, keys.listing_card(id)),
            (Marketplace, keys.cache_generation(&Keys::listing_scope(id))),
            (Marketplace, keys.cache_generation("trending")),
            (Marketplace, keys.trending()),
            (Marketplace, keys.trending_bucket(5)),
            (Marketplace, keys.trending_viewers(5)),
            (Marketplace, keys.trending_top(5, 10)),
            (Payments, keys.payment(id)),
            (Payments, keys.webhook("w")),
            (Payments, keys.settlements_high().to_string()),
            (Payments, keys.settlements_normal().delayed()),
            (Admin, keys.admin_dashboard()),
            (Admin, keys.admin_users("7d")),
            (Admin, keys.audit_search("h")),
            (Admin, keys.audit_head()),
            (Admin, keys.cache_generation("audit")),
            (Admin, keys.cache_generation("dashboard")),
            (Admin, keys.cache_generation("users")),
            (Notifications, keys.notifications(id)),
            (Notifications, keys.notifications_unread(id)),
            (Notifications, keys.ws_ticket("t")),
            (Notifications, keys.push_queue().to_string()),
            (Notifications, keys.push_queue().heartbeat("w")),
            (Notifications, keys.push_queued(id)),
        ];
        let all: Vec<Grants> = Service::ALL.iter().map(|s| Grants::of(&keys, *s)).collect();
        for (owner, key) in &owned {
            for g in &all {
                assert_eq!(
                    may_write(g, key),
                    g.service == *owner,
                    "{key}: {:?} (owner {owner:?})",
                    g.service
                );
            }
        }
        // Each relay's lease is its own.
        for s in Service::ALL {
            let lease = keys.outbox_relay_lease(s);
            for g in &all {
                assert_eq!(
                    may_write(g, &lease),
                    g.service == s && !sends_to(s).is_empty(),
                    "{lease}"
                );
            }
        }
    }

    /// A producer may push onto the queue of each consumer of its events and no other;
    /// a consumer uses its own queue and its helper lists.
    #[test]
    fn event_queues_follow_the_catalogue() {
        let keys = Keys::new("");
        for s in Service::ALL {
            let g = Grants::of(&keys, s);
            for other in Service::ALL {
                let q = keys.events(other);
                let pushes = sends_to(s).contains(&other);
                let consumes = other == s && consumes_events(s);
                assert_eq!(
                    may_write(&g, q.as_str()),
                    pushes || consumes,
                    "{s:?} -> {q}"
                );
                assert_eq!(may_read(&g, q.as_str()), consumes, "{s:?} reads {q}");
                assert_eq!(may_write(&g, &q.processing("w")), consumes, "{s:?} {q}");
            }
        }
        assert_eq!(
            sends_to(Service::Auth),
            vec![Service::Admin, Service::Notifications]
        );
        assert!(sends_to(Service::Admin).is_empty());
    }

    #[test]
    fn every_service_reads_the_verifier_keys_and_only_auth_writes_them() {
        let keys = Keys::new("p");
        for s in Service::ALL {
            let g = Grants::of(&keys, s);
            for key in [
                keys.jwks(),
                keys.blacklisted("j"),
                keys.revoked_before(Uuid::nil()),
            ] {
                assert!(may_read(&g, &key), "{s:?} {key}");
                assert_eq!(may_write(&g, &key), s == Service::Auth, "{s:?} {key}");
            }
        }
    }

    #[test]
    fn channels_are_their_publishers_and_the_hub_s() {
        let keys = Keys::new("");
        let id = Uuid::now_v7();
        let cases = [
            (Service::Kyc, keys.kyc_status_channel(id)),
            (Service::Kyc, keys.admin_kyc_channel()),
            (Service::Invoice, keys.invoice_channel(id)),
            (Service::Marketplace, keys.seller_channel(id)),
            (Service::Marketplace, keys.offer_channel(id)),
            (Service::Payments, keys.payment(id)),
            (Service::Admin, keys.admin_events_channel()),
            (Service::Notifications, keys.user_notifications_channel(id)),
        ];
        for (publisher, channel) in cases {
            for s in Service::ALL {
                let g = Grants::of(&keys, s);
                let expected = s == publisher || s == Service::Notifications;
                assert_eq!(may_use_channel(&g, &channel), expected, "{s:?} {channel}");
            }
        }
    }

    #[test]
    fn a_prefix_with_glob_characters_is_taken_literally() {
        let g = Grants::of(&Keys::new("a*b"), Service::Auth);
        assert!(g.keys.contains(&"a\\*b:auth:jwks".to_owned()));
        assert!(glob(&g.keys[0], "a*b:auth:jwks"));
        assert!(!glob(&g.keys[0], "aXb:auth:jwks"));
    }

    /// The committed files compose and the dev overlay load are what the schema generates
    /// with the dev passwords (`<user>-dev-only`). `UPDATE_ACL=1 cargo test -p common acl`
    /// rewrites them after a change of the key schema or the catalogue.
    #[test]
    fn the_committed_dev_acl_files_are_generated_from_the_schema() {
        let want = acl_file(&Keys::new(""), |user| format!("{user}-dev-only"));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for path in ["deploy/redis/users.acl", "k8s/overlays/dev/redis/users.acl"] {
            let path = root.join(path);
            if std::env::var_os("UPDATE_ACL").is_some() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &want).unwrap();
            }
            let got = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                got,
                want,
                "{} is stale: UPDATE_ACL=1 cargo test -p common acl",
                path.display()
            );
        }
    }

    #[test]
    fn the_file_names_every_user_with_a_hashed_password_and_no_dangerous_command() {
        let file = acl_file(&Keys::new(""), |user| format!("secret-{user}"));
        assert!(file.contains("user default on nopass resetkeys resetchannels -@all +ping\n"));
        assert!(!file.contains("secret-"), "passwords are stored hashed");
        for s in Service::ALL {
            let line = file
                .lines()
                .find(|l| l.starts_with(&format!("user {} ", s.as_str())))
                .unwrap();
            assert!(line.contains(&password_hash(&format!("secret-{}", s.as_str()))));
            assert!(line.contains("-@dangerous") && !line.contains("~* "));
        }
        assert_eq!(
            password_hash("foo"),
            "#2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
    }
}
