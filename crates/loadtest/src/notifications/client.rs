//! One client's WebSocket: the handshake, and the reader that stamps each notification
//! frame on arrival.

use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::publish::{KIND, unix_micros};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The longest a handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `ws://host:port` of an `http://host:port` base URL (no TLS in this tool).
pub fn base_url(http: &str) -> anyhow::Result<String> {
    match http.strip_prefix("http://") {
        Some(rest) => Ok(format!("ws://{}", rest.trim_end_matches('/'))),
        None => bail!("{http}: the WebSocket load test speaks plain http:// and ws:// only"),
    }
}

/// Opens `ws_base/api/notifications/ws?ticket=..`.
pub async fn connect(ws_base: &str, ticket: &str) -> anyhow::Result<Ws> {
    let url = reqwest::Url::parse_with_params(
        &format!("{ws_base}/api/notifications/ws"),
        [("ticket", ticket)],
    )?;
    let (ws, _response) = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .context("WebSocket handshake timed out")?
    .context("WebSocket handshake")?;
    Ok(ws)
}

/// A server frame, as far as the load test cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// One of the load's notifications.
    Load { seq: u64, sent_at_us: u64 },
    /// The warm-up's notification: the client's subscription is live.
    Warmup,
    /// Anything else ("event", "error", "subscribed", "resumed", other notifications).
    Other,
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct LoadData {
    seq: u64,
    sent_at_us: u64,
    #[serde(default)]
    warmup: bool,
}

/// Classifies a text frame.
pub fn parse(text: &str) -> Frame {
    let Ok(frame) = serde_json::from_str::<Incoming>(text) else {
        return Frame::Other;
    };
    if frame.type_ != "notification" || frame.kind.as_deref() != Some(KIND) {
        return Frame::Other;
    }
    match frame.data.map(serde_json::from_value::<LoadData>) {
        Some(Ok(LoadData { warmup: true, .. })) => Frame::Warmup,
        Some(Ok(LoadData {
            seq, sent_at_us, ..
        })) => Frame::Load { seq, sent_at_us },
        _ => Frame::Other,
    }
}

/// One load notification received.
#[derive(Debug, Clone, Copy)]
pub struct Got {
    pub seq: u64,
    pub latency_us: u64,
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The client's index (the publisher's target numbering).
    pub client: usize,
    pub got: Vec<Got>,
    /// Frames that were neither the load's nor the warm-up's.
    pub other: u64,
    /// Why the connection ended before the load test closed it, if it did.
    pub ended: Option<String>,
}

/// Reads `ws` until `stop` turns true (then closes it) or the connection ends, calling
/// `on_frame` for every text frame. Reading also answers the server's pings (tungstenite
/// queues the pong and sends it on the next read).
pub async fn read(
    client: usize,
    mut ws: Ws,
    mut stop: watch::Receiver<bool>,
    mut on_frame: impl FnMut(Frame) + Send + 'static,
) -> Outcome {
    let mut out = Outcome {
        client,
        ..Outcome::default()
    };
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return out;
            }
        };
        let arrived_us = unix_micros();
        match message {
            Some(Ok(Message::Text(text))) => {
                let frame = parse(text.as_str());
                match frame {
                    Frame::Load { seq, sent_at_us } => out.got.push(Got {
                        seq,
                        latency_us: arrived_us.saturating_sub(sent_at_us),
                    }),
                    Frame::Other => out.other += 1,
                    Frame::Warmup => {}
                }
                on_frame(frame);
            }
            Some(Ok(Message::Close(frame))) => {
                out.ended = Some(match frame {
                    Some(f) => format!("closed by the server: {} {}", f.code, f.reason),
                    None => "closed by the server".to_owned(),
                });
                return out;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                out.ended = Some(e.to_string());
                return out;
            }
            None => {
                out.ended = Some("connection ended".to_owned());
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::publish::frame;

    #[test]
    fn the_publishers_frames_parse_back() {
        let Frame::Load { seq, sent_at_us } = parse(&frame(42, false)) else {
            panic!("not a load frame");
        };
        assert_eq!(seq, 42);
        assert!(sent_at_us.abs_diff(unix_micros()) < 60_000_000);
        assert_eq!(parse(&frame(0, true)), Frame::Warmup);
    }

    #[test]
    fn other_frames_are_other() {
        for text in [
            r#"{"type":"subscribed","channel":"invoice:1"}"#,
            r#"{"type":"event","data":{"seq":1,"sent_at_us":2}}"#,
            r#"{"type":"notification","id":"x","kind":"offer.accepted","data":{"offer_id":"y"}}"#,
            r#"{"type":"notification","kind":"loadtest","data":{"seq":"not a number"}}"#,
            r#"{"type":"notification","kind":"loadtest"}"#,
            r#"{"type":"resumed","count":3}"#,
            "not json",
        ] {
            assert_eq!(parse(text), Frame::Other, "{text}");
        }
    }

    #[test]
    fn a_load_frame_of_the_documented_shape_is_recognised() {
        let text = r#"{"type":"notification","id":"0190b0c4-0000-7000-8000-000000000000","kind":"loadtest","title":"t","body":"b","data":{"seq":7,"sent_at_us":1700000000000000},"created_at":"2026-01-01T00:00:00Z"}"#;
        assert_eq!(
            parse(text),
            Frame::Load {
                seq: 7,
                sent_at_us: 1_700_000_000_000_000
            }
        );
    }

    #[test]
    fn websocket_urls_follow_the_http_base() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").ok().as_deref(),
            Some("ws://127.0.0.1:8080")
        );
        assert!(base_url("https://api.vestio.example").is_err());
    }
}
