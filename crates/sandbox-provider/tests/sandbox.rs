//! The sandbox in-process on port 0, with a wiremock server as the webhook receiver and a
//! manual clock for the signatures' timestamps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::clock::{Clock, ManualClock};
use sandbox_provider::{Faults, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use service_kit::webhooks::{Headers, WebhookSecret, verify};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const HOOK: &str = "/hooks/sandbox";

struct TestSandbox {
    sandbox: Sandbox,
    receiver: MockServer,
    secrets: Vec<WebhookSecret>,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
}

/// A sandbox whose receiver answers 200.
async fn spawn() -> TestSandbox {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    spawn_with(receiver, |_| {}).await
}

async fn spawn_with(receiver: MockServer, tweak: impl FnOnce(&mut SandboxConfig)) -> TestSandbox {
    let secrets = vec![WebhookSecret::generate()];
    let mut config = SandboxConfig::for_tests(Some(format!("{}{HOOK}", receiver.uri())), secrets);
    tweak(&mut config);
    let secrets = config.webhook_secrets.clone();
    let clock = ManualClock::starting_now();
    let sandbox = Sandbox::start(config, clock.clone()).await.unwrap();
    TestSandbox {
        sandbox,
        receiver,
        secrets,
        clock,
        http: reqwest::Client::new(),
    }
}

/// Polls `f` every 15 ms until it gives `Some`, for at most 5 s.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

fn reference(tag: &str) -> String {
    format!("{tag}_{}", uuid::Uuid::now_v7().simple())
}

impl TestSandbox {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.url())
    }

    async fn answer(res: reqwest::Response) -> (u16, Value) {
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// A server-to-server POST with the secret key.
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(self.sandbox.secret_key())
            .json(&body)
            .send()
            .await
            .unwrap();
        Self::answer(res).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(self.sandbox.secret_key())
            .send()
            .await
            .unwrap();
        Self::answer(res).await
    }

    /// A POST without the key (checkout, control).
    async fn post_open(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        Self::answer(res).await
    }

    async fn initialize(&self, reference: &str, amount: u64) -> Value {
        let (status, body) = self
            .post(
                "/transaction/initialize",
                json!({"reference": reference, "amount": amount, "currency": "NGN",
                       "email": "investor@example.com", "metadata": {"offer_id": "o-1"}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    async fn paid(&self, amount: u64) -> String {
        let r = reference("pay");
        self.initialize(&r, amount).await;
        let (status, body) = self
            .post_open(&format!("/checkout/{r}/pay"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        r
    }

    async fn recipient(&self, account_number: &str) -> String {
        let (status, body) = self
            .post(
                "/transferrecipient",
                json!({"name": "Ada Seller", "account_number": account_number,
                       "bank_code": "058", "currency": "NGN"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["recipient_code"].as_str().unwrap().to_owned()
    }

    async fn transfer(&self, reference: &str, recipient: &str, amount: u64) -> (u16, Value) {
        self.post(
            "/transfer",
            json!({"source": "balance", "amount": amount, "currency": "NGN",
                   "recipient": recipient, "reference": reference, "reason": "payout"}),
        )
        .await
    }

    async fn transfer_status(&self, reference: &str) -> String {
        let (status, body) = self.get(&format!("/transfer/verify/{reference}")).await;
        assert_eq!(status, 200, "{body}");
        body["data"]["status"].as_str().unwrap().to_owned()
    }

    async fn requests(&self) -> Vec<Request> {
        self.receiver.received_requests().await.unwrap_or_default()
    }

    /// Waits until the receiver has seen `n` requests (and returns them).
    async fn received(&self, n: usize) -> Vec<Request> {
        eventually(&format!("{n} webhook requests"), || async {
            let got = self.requests().await;
            (got.len() >= n).then_some(got)
        })
        .await
    }

    /// Checks a request's Standard Webhooks signature with `secrets` at the clock's now.
    fn verify_with(&self, req: &Request, secrets: &[WebhookSecret]) -> Result<(), String> {
        let header = |name: &str| req.headers.get(name).unwrap().to_str().unwrap().to_owned();
        let (id, ts, sig) = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        );
        let headers = Headers {
            id: &id,
            timestamp: &ts,
            signature: &sig,
        };
        verify(secrets, &headers, &req.body, self.clock.now().timestamp())
            .map_err(|e| e.to_string())
    }
}

fn webhook_id(req: &Request) -> String {
    req.headers["webhook-id"].to_str().unwrap().to_owned()
}

fn event(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

fn types(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| event(r)["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_paid_checkout_is_verified_and_announced_by_a_signed_webhook() {
    let t = spawn().await;
    let r = reference("fund");
    let data = t.initialize(&r, 150_000).await;
    let checkout = format!("{}/checkout/{r}", t.sandbox.url());
    assert_eq!(data["authorization_url"], checkout.as_str());
    assert_eq!(data["reference"], r.as_str());
    assert!(!data["access_code"].as_str().unwrap().is_empty());

    let page = t.http.get(&checkout).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("NGN 1500.00"), "{html}");
    assert!(html.contains(r#"value="150000""#), "{html}");
    assert!(
        html.contains(&format!(r#"action="{checkout}/pay""#)),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"action="{checkout}/decline""#)),
        "{html}"
    );

    let (status, body) = t.get(&format!("/transaction/verify/{r}")).await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("pending"))
    );
    assert_eq!(body["data"]["amount"], 150_000);
    assert!(body["data"]["paid_at"].is_null());

    // A person pays less than asked.
    let (status, body) = t
        .post_open(&format!("/checkout/{r}/pay"), json!({"amount": 120_000}))
        .await;
    assert_eq!(status, 200, "{body}");

    let (_, body) = t.get(&format!("/transaction/verify/{r}")).await;
    let tx = &body["data"];
    assert_eq!(tx["status"], "success");
    assert_eq!(
        (tx["amount"].as_u64(), tx["requested_amount"].as_u64()),
        (Some(120_000), Some(150_000))
    );
    assert_eq!(tx["currency"], "NGN");
    assert_eq!(tx["metadata"], json!({"offer_id": "o-1"}));
    assert!(tx["id"].as_u64().is_some());
    let paid_at = tx["paid_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(paid_at).is_ok(),
        "{paid_at}"
    );

    let requests = t.received(1).await;
    let req = &requests[0];
    assert_eq!(req.headers["content-type"], "application/json");
    assert!(webhook_id(req).starts_with("msg_"));
    t.verify_with(req, &t.secrets).unwrap();
    assert!(t.verify_with(req, &[WebhookSecret::generate()]).is_err());
    let e = event(req);
    assert_eq!(e["type"], "charge.success");
    assert_eq!(e["data"]["reference"], r.as_str());
    assert_eq!(e["data"]["amount"], 120_000);
    assert_eq!(e["data"]["metadata"], json!({"offer_id": "o-1"}));
    t.sandbox.stop().await;
}

#[tokio::test]
async fn during_a_rotation_every_secret_verifies_the_webhook() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let (new, old) = (WebhookSecret::generate(), WebhookSecret::generate());
    let both = vec![new.clone(), old.clone()];
    let t = spawn_with(receiver, |c| c.webhook_secrets = both).await;
    t.paid(500).await;
    let requests = t.received(1).await;
    let sig = requests[0].headers["webhook-signature"].to_str().unwrap();
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    t.verify_with(&requests[0], &[old]).unwrap();
    t.verify_with(&requests[0], &[new]).unwrap();
    eventually("the delivery to be marked sent", || async {
        (t.sandbox.stats().deliveries_sent == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_declined_checkout_fails_and_can_be_neither_paid_nor_declined_again() {
    let t = spawn().await;
    let r = reference("decline");
    t.initialize(&r, 1_000).await;
    let (status, body) = t
        .post_open(&format!("/checkout/{r}/decline"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "failed");
    let (_, body) = t.get(&format!("/transaction/verify/{r}")).await;
    assert_eq!(body["data"]["status"], "failed");

    for action in ["pay", "decline"] {
        let (status, body) = t
            .post_open(&format!("/checkout/{r}/{action}"), json!({}))
            .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["status"], false);
    }
    let (status, _) = t
        .post_open("/checkout/unknown_reference_00/pay", json!({}))
        .await;
    assert_eq!(status, 404);

    let requests = t.received(1).await;
    assert_eq!(types(&requests), ["charge.failed"]);
    t.verify_with(&requests[0], &t.secrets).unwrap();
}

#[tokio::test]
async fn the_checkout_form_pays_any_amount_and_answers_with_a_page() {
    let t = spawn().await;
    let r = reference("form");
    t.initialize(&r, 2_000).await;
    let form = |body: &'static str| {
        t.http
            .post(t.url(&format!("/checkout/{r}/pay")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let res = form("amount=abc").await.unwrap();
    assert_eq!(res.status(), 422);
    let res = form("amount=2500").await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("Payment successful"), "{html}");
    let (_, body) = t.get(&format!("/transaction/verify/{r}")).await;
    assert_eq!(body["data"]["amount"], 2_500);
    let res = form("amount=").await.unwrap();
    assert_eq!(res.status(), 409);
    let page = t
        .http
        .get(t.url(&format!("/checkout/{r}")))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("already"));
}

#[tokio::test]
async fn initialize_is_idempotent_per_reference_and_refuses_another_amount() {
    let t = spawn().await;
    let r = reference("idem");
    let first = t.initialize(&r, 7_000).await;
    let again = t.initialize(&r, 7_000).await;
    assert_eq!(first, again);
    for other in [
        json!({"reference": r, "amount": 7_001, "currency": "NGN"}),
        json!({"reference": r, "amount": 7_000, "currency": "USD"}),
    ] {
        let (status, body) = t.post("/transaction/initialize", other).await;
        assert_eq!(status, 409, "{body}");
    }
    for (bad, expected) in [
        (
            json!({"reference": "short", "amount": 1, "currency": "NGN"}),
            422,
        ),
        (
            json!({"reference": reference("x"), "amount": 0, "currency": "NGN"}),
            422,
        ),
        (
            json!({"reference": reference("x"), "amount": -3, "currency": "NGN"}),
            422,
        ),
        (
            json!({"reference": reference("x"), "amount": 1, "currency": "naira"}),
            422,
        ),
        (json!({"reference": reference("x"), "currency": "NGN"}), 400),
    ] {
        let (status, body) = t.post("/transaction/initialize", bad.clone()).await;
        assert_eq!(status, expected, "{bad} -> {body}");
        assert_eq!(body["status"], false);
        assert!(body["message"].is_string());
    }
    assert_eq!(
        t.get("/transaction/verify/no_such_reference_1").await.0,
        404
    );
    assert_eq!(t.sandbox.stats().transactions, 1);
}

#[tokio::test]
async fn a_transfer_posted_three_times_moves_money_once() {
    let t = spawn().await;
    let recipient = t.recipient("0123456780").await;
    let r = reference("payout");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, body) = t.transfer(&r, &recipient, 90_000).await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["data"]["id"].as_u64().unwrap());
    }
    assert!(ids.iter().all(|id| *id == ids[0]));
    let (status, body) = t.transfer(&r, &recipient, 90_001).await;
    assert_eq!(status, 409, "{body}");

    let (status, body) = t.post_open("/_control/noop", json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (_, body) = t.get(&format!("/_control/transfers/{r}")).await;
    assert_eq!(body["data"]["attempts"], 4);
    assert_eq!(body["data"]["executed"], 1);

    eventually("the transfer to succeed", || async {
        (t.transfer_status(&r).await == "success").then_some(())
    })
    .await;
    let requests = t.received(1).await;
    eventually("the delivery to be sent", || async {
        (t.sandbox.stats().deliveries_sent == 1).then_some(())
    })
    .await;
    let stats = t.sandbox.stats();
    assert_eq!((stats.transfers, stats.transfers_executed), (4, 1));
    assert_eq!(types(&t.requests().await), ["transfer.success"]);
    let e = event(&requests[0]);
    assert_eq!(e["data"]["reference"], r.as_str());
    assert_eq!(e["data"]["amount"], 90_000);
    assert_eq!(e["data"]["recipient"], recipient.as_str());
    assert_eq!(e["data"]["status"], "success");
    // Retried after success: still the one transfer.
    let (status, body) = t.transfer(&r, &recipient, 90_000).await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("success"))
    );
    assert_eq!(t.sandbox.transfer_attempts(&r).unwrap().executed, 1);
}

#[tokio::test]
async fn transfer_outcomes_follow_the_last_digit_of_the_account_number() {
    let t = spawn().await;
    let mut refs = Vec::new();
    for account in ["0123456780", "0123456781", "0123456782", "0123456783"] {
        let recipient = t.recipient(account).await;
        let r = reference(&format!("out{}", &account[9..]));
        let (status, body) = t.transfer(&r, &recipient, 1_000).await;
        assert_eq!(
            (status, body["data"]["status"].as_str()),
            (200, Some("pending"))
        );
        refs.push(r);
    }
    for (r, expected) in refs
        .iter()
        .zip(["success", "failed", "pending", "reversed"])
    {
        eventually(&format!("{r} to be {expected}"), || async {
            (t.transfer_status(r).await == expected).then_some(())
        })
        .await;
    }
    // Four webhooks: success, failed, success then reversed for the 3.
    let requests = t.received(4).await;
    let mut got = types(&requests);
    got.sort();
    assert_eq!(
        got,
        [
            "transfer.failed",
            "transfer.reversed",
            "transfer.success",
            "transfer.success"
        ]
    );
    assert_eq!(t.transfer_status(&refs[2]).await, "pending");

    // The held one settles when told.
    let (status, body) = t
        .post_open(
            &format!("/_control/transfers/{}/complete", refs[2]),
            json!({"status": "failed"}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("failed"))
    );
    let requests = t.received(5).await;
    assert!(requests.iter().any(|r| {
        let e = event(r);
        e["type"] == "transfer.failed" && e["data"]["reference"] == refs[2].as_str()
    }));
    let (status, _) = t
        .post_open(
            &format!("/_control/transfers/{}/complete", refs[2]),
            json!({"status": "success"}),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn accounts_resolve_and_recipients_are_checked() {
    let t = spawn().await;
    let (status, body) = t
        .get("/bank/resolve?account_number=0123456789&bank_code=058")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["account_name"], "SANDBOX ACCOUNT 6789");
    assert_eq!(body["data"]["account_number"], "0123456789");
    for q in [
        "account_number=0000000000&bank_code=058",
        "account_number=123&bank_code=058",
        "account_number=0123456789&bank_code=58",
    ] {
        let (status, body) = t.get(&format!("/bank/resolve?{q}")).await;
        assert_eq!(status, 422, "{q}: {body}");
    }
    let a = t.recipient("0123456789").await;
    assert!(a.starts_with("RCP_"));
    assert_eq!(a, t.recipient("0123456789").await);
    assert_ne!(a, t.recipient("0123456788").await);

    let (status, _) = t.transfer(&reference("t"), "RCP_not_issued_here", 10).await;
    assert_eq!(status, 422);
    let (status, _) = t
        .post(
            "/transfer",
            json!({"source": "card", "amount": 10, "currency": "NGN",
                   "recipient": a, "reference": reference("t")}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(t.get("/transfer/verify/no_such_transfer_1").await.0, 404);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_the_same_id_and_fresh_timestamps() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let t = spawn_with(receiver, |c| c.retry_base = Duration::from_millis(300)).await;
    t.paid(100).await;
    // Move the clock between attempts: each attempt is signed at its own time.
    t.received(1).await;
    t.clock.advance(chrono::Duration::seconds(100));
    t.received(2).await;
    t.clock.advance(chrono::Duration::seconds(100));
    let requests = t.received(3).await;
    let ids: Vec<_> = requests.iter().map(webhook_id).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let stamps: Vec<i64> = requests
        .iter()
        .map(|r| {
            r.headers["webhook-timestamp"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!((stamps[1] - stamps[0], stamps[2] - stamps[1]), (100, 100));
    for r in &requests {
        t.verify_with(r, &t.secrets).unwrap();
        assert_eq!(r.body, requests[0].body);
    }
    let deliveries = eventually("the delivery to be marked sent", || async {
        let d = t.sandbox.deliveries();
        d[0].delivered.then_some(d)
    })
    .await;
    assert_eq!(
        (deliveries[0].attempts, deliveries[0].last_status),
        (3, Some(200))
    );
    assert_eq!(deliveries[0].id, ids[0]);
}

#[tokio::test]
async fn a_receiver_that_never_answers_2xx_fails_the_delivery_after_max_attempts() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&receiver)
        .await;
    let t = spawn_with(receiver, |c| {
        c.max_attempts = 3;
        c.retry_base = Duration::from_millis(5);
    })
    .await;
    t.paid(100).await;
    eventually("the delivery to fail", || async {
        (t.sandbox.stats().deliveries_failed == 1).then_some(())
    })
    .await;
    assert_eq!(t.requests().await.len(), 3);
    let (_, body) = t.get("/_control/deliveries").await;
    assert_eq!(body["data"][0]["attempts"], 3);
    assert_eq!(body["data"][0]["last_status"], 503);
    assert_eq!(body["data"][0]["delivered"], false);
}

#[tokio::test]
async fn the_duplicate_fault_sends_copies_under_one_id() {
    let t = spawn().await;
    let (status, _) = t
        .post_open("/_control/faults", json!({"duplicate": 2}))
        .await;
    assert_eq!(status, 200);
    let (_, body) = t.get("/_control/faults").await;
    assert_eq!(body["data"]["duplicate"], 2);
    t.paid(100).await;
    let requests = t.received(3).await;
    let ids: Vec<_> = requests.iter().map(webhook_id).collect();
    assert_eq!(ids, [ids[0].clone(), ids[0].clone(), ids[0].clone()]);
    assert_eq!(t.sandbox.deliveries().len(), 1);
}

#[tokio::test]
async fn the_reorder_fault_sends_held_deliveries_newest_first() {
    let t = spawn().await;
    t.sandbox.set_faults(Faults {
        reorder: true,
        ..Faults::default()
    });
    let first = t.paid(1).await;
    let second = t.paid(2).await;
    assert_eq!(t.sandbox.stats().deliveries_pending, 2);
    assert!(t.requests().await.is_empty());
    let (status, _) = t.post_open("/_control/flush", json!({})).await;
    assert_eq!(status, 200);
    let requests = t.received(2).await;
    let order: Vec<_> = requests
        .iter()
        .map(|r| event(r)["data"]["reference"].clone())
        .collect();
    assert_eq!(order, [json!(second), json!(first)]);

    // Five held go out by themselves, newest first.
    let mut refs = Vec::new();
    for amount in 10..15 {
        refs.push(t.paid(amount).await);
    }
    let requests = t.received(7).await;
    let order: Vec<_> = requests[2..]
        .iter()
        .map(|r| event(r)["data"]["amount"].as_u64().unwrap())
        .collect();
    assert_eq!(order, [14, 13, 12, 11, 10]);
}

#[tokio::test]
async fn dropped_and_delayed_attempts_are_counted_and_flushable() {
    let t = spawn().await;
    t.sandbox.set_faults(Faults {
        drop_first_attempts: 2,
        ..Faults::default()
    });
    t.paid(100).await;
    t.received(1).await;
    let d = eventually("the delivery", || async {
        let d = t.sandbox.deliveries();
        d[0].delivered.then_some(d)
    })
    .await;
    assert_eq!(d[0].attempts, 3);
    assert_eq!(t.requests().await.len(), 1);

    let (status, _) = t
        .post_open("/_control/faults", json!({"delay_ms": 600_000}))
        .await;
    assert_eq!(status, 200);
    t.paid(200).await;
    assert_eq!(t.sandbox.stats().deliveries_pending, 1);
    t.sandbox.flush();
    let requests = t.received(2).await;
    assert_eq!(event(&requests[1])["data"]["amount"], 200);
    let (status, body) = t.post_open("/_control/faults", json!({"bogus": 1})).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn server_to_server_routes_need_the_secret_key() {
    let t = spawn().await;
    let body = json!({"reference": reference("auth"), "amount": 1, "currency": "NGN"});
    let routes = [
        ("POST", "/transaction/initialize"),
        ("GET", "/transaction/verify/abcdefghijklmnop"),
        ("POST", "/refund"),
        (
            "GET",
            "/bank/resolve?account_number=0123456789&bank_code=058",
        ),
        ("POST", "/transferrecipient"),
        ("POST", "/transfer"),
        ("GET", "/transfer/verify/abcdefghijklmnop"),
    ];
    for (verb, route) in routes {
        for auth in [None, Some("Bearer sk_test_wrong"), Some("sk_test_sandbox")] {
            let mut req = t
                .http
                .request(verb.parse().unwrap(), t.url(route))
                .json(&body);
            if let Some(auth) = auth {
                req = req.header("authorization", auth);
            }
            let (status, answer) = TestSandbox::answer(req.send().await.unwrap()).await;
            assert_eq!(status, 401, "{verb} {route} with {auth:?}: {answer}");
            assert_eq!(answer["status"], false);
        }
    }
    let res = t.http.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (res.status().as_u16(), res.text().await.unwrap()),
        (200, "ok".into())
    );
    assert_eq!(t.get("/_control/stats").await.0, 200);
}

#[tokio::test]
async fn refunds_are_limited_to_what_was_paid() {
    let t = spawn().await;
    let r = reference("refund");
    t.initialize(&r, 1_000).await;
    let (status, _) = t.post("/refund", json!({"transaction": r})).await;
    assert_eq!(status, 409, "a pending transaction is not refundable");
    t.post_open(&format!("/checkout/{r}/pay"), json!({"amount": 800}))
        .await;

    let (status, body) = t
        .post("/refund", json!({"transaction": r, "amount": 300}))
        .await;
    assert_eq!(status, 200, "{body}");
    let refund = &body["data"];
    assert_eq!(
        (refund["amount"].as_u64(), refund["status"].as_str()),
        (Some(300), Some("processed"))
    );
    assert_eq!(refund["transaction_reference"], r.as_str());
    let (status, _) = t
        .post("/refund", json!({"transaction": r, "amount": 501}))
        .await;
    assert_eq!(status, 422);
    let (status, body) = t.post("/refund", json!({"transaction": r})).await;
    assert_eq!((status, body["data"]["amount"].as_u64()), (200, Some(500)));
    let (status, _) = t.post("/refund", json!({"transaction": r})).await;
    assert_eq!(status, 422);
    let (status, _) = t
        .post("/refund", json!({"transaction": "no_such_reference_1"}))
        .await;
    assert_eq!(status, 404);
    let (_, body) = t.get(&format!("/transaction/verify/{r}")).await;
    assert_eq!(body["data"]["refunded_amount"], 800);

    let requests = t.received(3).await;
    let got = types(&requests);
    assert_eq!(
        got.iter().filter(|t| *t == "refund.processed").count(),
        2,
        "{got:?}"
    );
    let refund = requests
        .iter()
        .map(event)
        .find(|e| e["type"] == "refund.processed")
        .unwrap();
    assert_eq!(refund["data"]["currency"], "NGN");
}

#[tokio::test]
async fn a_reversed_charge_is_announced() {
    let t = spawn().await;
    let r = t.paid(4_000).await;
    let (status, body) = t
        .post_open(&format!("/_control/transactions/{r}/reverse"), json!({}))
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("reversed"))
    );
    let (status, _) = t
        .post_open(&format!("/_control/transactions/{r}/reverse"), json!({}))
        .await;
    assert_eq!(status, 409);
    let requests = t.received(2).await;
    let mut got = types(&requests);
    got.sort();
    assert_eq!(got, ["charge.reversed", "charge.success"]);

    let pending = reference("abandon");
    t.initialize(&pending, 10).await;
    let (status, body) = t
        .post_open(
            &format!("/_control/transactions/{pending}/abandon"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("abandoned"))
    );
}

#[tokio::test]
async fn without_a_webhook_url_deliveries_wait_for_one() {
    let clock = ManualClock::starting_now();
    let mut config = SandboxConfig::for_tests(None, vec![WebhookSecret::generate()]);
    config.public_url = "http://localhost:8080/sandbox/".into();
    let sandbox = Sandbox::start(config, clock).await.unwrap();
    assert_eq!(sandbox.public_url(), "http://localhost:8080/sandbox");
    let http = reqwest::Client::new();
    let r = reference("quiet");
    let res: Value = http
        .post(format!("{}/transaction/initialize", sandbox.url()))
        .bearer_auth(sandbox.secret_key())
        .json(&json!({"reference": r, "amount": 5, "currency": "NGN"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        res["data"]["authorization_url"],
        format!("http://localhost:8080/sandbox/checkout/{r}")
    );
    let res = http
        .post(format!("{}/checkout/{r}/pay", sandbox.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let deliveries = sandbox.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].attempts, 0);
    assert_eq!(deliveries[0].data["reference"], r.as_str());
    assert_eq!(sandbox.stats().deliveries_pending, 1);

    // A receiver appears: what waited goes out.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    sandbox.set_webhook_url(Some(format!("{}{HOOK}", receiver.uri())));
    let requests = eventually("the waiting delivery", || async {
        let got = receiver.received_requests().await.unwrap_or_default();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(webhook_id(&requests[0]), deliveries[0].id);
    sandbox.stop().await;
}
