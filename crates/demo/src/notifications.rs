//! Notifications through the gateway: what the earlier sections' events told the seller,
//! the unread count, read-all, a live WebSocket (ticket, entitled and refused
//! subscriptions, a notification arriving live) and another user refused.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{Demo, Poll};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const KINDS: [&str; 4] = [
    "kyc.approved",
    "invoice.listed",
    "offer.placed",
    "offer.accepted",
];

async fn next_frame(ws: &mut Ws) -> anyhow::Result<Value> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t)?),
                Some(Ok(Message::Close(c))) => bail!("the WebSocket closed: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => bail!("the WebSocket failed: {e}"),
                None => bail!("the WebSocket ended"),
            }
        }
    })
    .await
    .context("no frame within 20 s")?
}

/// The next frame that is not a notification: the answer to what the client sent. A
/// notification of the user's may arrive first (one stored just before the socket
/// opened is delivered live too).
async fn next_reply(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        let f = next_frame(ws).await?;
        if f["type"] != "notification" {
            return Ok(f);
        }
    }
}

async fn send(ws: &mut Ws, frame: Value) -> anyhow::Result<()> {
    ws.send(Message::Text(frame.to_string().into())).await?;
    Ok(())
}

impl Demo {
    pub async fn notifications(&mut self) -> anyhow::Result<()> {
        self.section("== Notifications (notifications) ==");
        let (seller, investor, _admin) = self.parties("notifications").await?;

        let mut poll = Poll::new(
            "the seller's notifications of KYC, listing, offer and acceptance".to_owned(),
            Duration::from_millis(100),
        );
        let page = loop {
            let page = self
                .as_user(
                    Method::GET,
                    "/api/notifications?limit=100",
                    &seller,
                    None,
                    StatusCode::OK,
                    "the seller's notifications",
                )
                .await?;
            let kinds: Vec<&str> = page["items"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|i| i["kind"].as_str())
                .collect();
            if KINDS.iter().all(|k| kinds.contains(k)) {
                break page;
            }
            poll.next().await?;
        };
        let items = page["items"].as_array().context("no items")?;
        self.step(&format!(
            "1. The seller has {} notifications, newest first; e.g. \"{}\": {}",
            items.len(),
            items[0]["title"].as_str().unwrap_or("?"),
            items[0]["body"].as_str().unwrap_or("?"),
        ));
        let unread = self
            .as_user(
                Method::GET,
                "/api/notifications/unread-count",
                &seller,
                None,
                StatusCode::OK,
                "unread count",
            )
            .await?;
        ensure!(
            unread["unread"].as_u64() == Some(items.len() as u64),
            "unread {unread} for {} unread items",
            items.len()
        );
        self.step(&format!("2. Unread: {}.", unread["unread"]));

        let someone_elses = items[0]["id"].as_str().context("no id")?;
        self.as_user(
            Method::POST,
            &format!("/api/notifications/{someone_elses}/read"),
            &investor,
            None,
            StatusCode::NOT_FOUND,
            "the investor marking the seller's notification",
        )
        .await?;
        self.step("3. The investor cannot mark the seller's notification read: 404.");

        let ticket = self
            .as_user(
                Method::POST,
                "/api/notifications/ws-ticket",
                &seller,
                None,
                StatusCode::CREATED,
                "a WebSocket ticket",
            )
            .await?;
        let ticket = ticket["ticket"].as_str().context("no ticket")?.to_owned();
        let ws_base = self.base.replacen("http", "ws", 1);
        let url = format!("{ws_base}/api/notifications/ws?ticket={ticket}");
        let (mut ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .context("the WebSocket through the gateway")?;
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) if res.status() == 401 => {}
            other => bail!(
                "a used ticket: expected 401, got {:?}",
                other.map(|(_, r)| r.status())
            ),
        }
        self.step("4. The seller opened the WebSocket with a one-time ticket (used again: 401).");

        send(
            &mut ws,
            json!({"type": "subscribe", "channel": format!("seller:{}", seller.id)}),
        )
        .await?;
        let f = next_reply(&mut ws).await?;
        ensure!(
            f["type"] == "subscribed",
            "subscribe to own seller channel: {f}"
        );
        send(
            &mut ws,
            json!({"type": "subscribe", "channel": format!("kyc:status:{}", investor.id)}),
        )
        .await?;
        let f = next_reply(&mut ws).await?;
        ensure!(
            f["code"] == "forbidden",
            "subscribe to the investor's KYC channel: {f}"
        );
        self.step("5. Subscribed to seller:<own id>; the investor's kyc:status channel is refused (forbidden).");

        let number = format!("INV-N-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let draft = self
            .as_user(
                Method::POST,
                "/api/invoices",
                &seller,
                Some(&crate::invoice::invoice_body(
                    &number,
                    "250000.00",
                    "Notification demo",
                )),
                StatusCode::CREATED,
                "a second draft",
            )
            .await?;
        let id = draft["id"].as_str().context("no invoice id")?;
        self.as_user(
            Method::POST,
            &format!("/api/invoices/{id}/submit"),
            &seller,
            None,
            StatusCode::OK,
            "submit it",
        )
        .await?;
        let frame = loop {
            let f = next_frame(&mut ws).await?;
            if f["type"] == "notification" && f["kind"] == "invoice.submitted" {
                break f;
            }
        };
        self.step(&format!(
            "6. The seller submitted invoice {number}; over the WebSocket, live: \"{}\".",
            frame["title"].as_str().unwrap_or("?")
        ));
        let _ = ws.close(None).await;

        let done = self
            .as_user(
                Method::POST,
                "/api/notifications/read-all",
                &seller,
                None,
                StatusCode::OK,
                "read all",
            )
            .await?;
        ensure!(done["unread"] == 0, "after read-all: {done}");
        self.step(&format!(
            "7. Read all: {} marked, unread now 0.",
            done["marked"]
        ));
        Ok(())
    }
}
