//! The WebSocket protocol on the connection the kit hands over after the handshake
//! (`service_kit::http::Handover`, `ws::socket`), spoken byte by byte over plain TCP:
//! refused upgrades answered in full and closed, frames sent together with the handshake,
//! fragmented messages, pings, and the close codes of broken input.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{DEADLINE, TestApp, spawn_app};

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A client frame: masked, as RFC 6455 requires of clients.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    let mask = [0x12, 0x34, 0x56, 0x78];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn handshake(app: &TestApp, ticket: Option<&str>) -> String {
    let query = ticket.map(|t| format!("?ticket={t}")).unwrap_or_default();
    format!(
        "GET /api/notifications/ws{query} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        app.port
    )
}

/// A raw connection: what was read and not parsed yet.
struct Raw {
    io: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn open(app: &TestApp, first: &[u8]) -> Self {
        let mut io = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        io.write_all(first).await.unwrap();
        Self {
            io,
            buf: Vec::new(),
        }
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(DEADLINE, self.io.read(&mut chunk))
            .await
            .expect("the server answers within the deadline")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// The HTTP answer's head (through the blank line).
    async fn head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8(head).unwrap();
            }
            assert!(
                self.fill().await,
                "connection closed before the answer's head"
            );
        }
    }

    /// Everything until the server closes the connection.
    async fn rest(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buf)
    }

    /// The next server frame: (opcode, payload). Server frames are not masked.
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "server frames are not masked");
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let opcode = self.buf[0] & 0x0f;
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return (opcode, payload);
                }
            }
            assert!(self.fill().await, "connection closed before a whole frame");
        }
    }

    /// The next frame that is not a ping (the server's heartbeat).
    async fn data(&mut self) -> (u8, Vec<u8>) {
        loop {
            let (opcode, payload) = self.frame().await;
            if opcode != PING {
                return (opcode, payload);
            }
        }
    }

    /// The next text frame, as JSON.
    async fn json(&mut self) -> serde_json::Value {
        let (opcode, payload) = self.data().await;
        assert_eq!(opcode, TEXT, "a text frame");
        serde_json::from_slice(&payload).unwrap()
    }

    /// The close frame's code, then the end of the connection.
    async fn closed_with(&mut self) -> u16 {
        let (opcode, payload) = self.data().await;
        assert_eq!(opcode, CLOSE, "a close frame, got {payload:?}");
        let code = u16::from_be_bytes([payload[0], payload[1]]);
        // The server waits (briefly) for the client's close, then ends the connection.
        self.io
            .write_all(&frame(true, CLOSE, &code.to_be_bytes()))
            .await
            .unwrap();
        self.rest().await;
        code
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }
}

/// A connection through the handshake, with `then` sent in the same write.
async fn upgraded(app: &TestApp, then: &[u8]) -> Raw {
    let user = app.seller();
    let ticket = app.ticket(&user).await;
    let mut first = handshake(app, Some(&ticket)).into_bytes();
    first.extend_from_slice(then);
    let mut raw = Raw::open(app, &first).await;
    let head = raw.head().await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    raw
}

fn subscribe(channel: &str) -> Vec<u8> {
    format!(r#"{{"type":"subscribe","channel":"{channel}"}}"#).into_bytes()
}

#[tokio::test]
async fn a_refused_upgrade_is_answered_as_a_problem_and_the_connection_closed() {
    let app = spawn_app().await;
    let mut raw = Raw::open(&app, handshake(&app, None).as_bytes()).await;
    let head = raw.head().await;
    let lower = head.to_ascii_lowercase();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{head}"
    );
    assert!(
        lower.contains("x-request-id: "),
        "through the middleware: {head}"
    );
    assert!(lower.contains("connection: close"), "{head}");
    let body = raw.rest().await;
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["status"], 401);

    // Any other route asked with an upgrade is answered by the app as well.
    let other = handshake(&app, None).replace("/api/notifications/ws", "/api/notifications/nope");
    let mut raw = Raw::open(&app, other.as_bytes()).await;
    assert!(raw.head().await.starts_with("HTTP/1.1 404"));
    assert_eq!(app.state.hub.connections(), 0);
}

#[tokio::test]
async fn a_frame_sent_with_the_handshake_is_read() {
    let app = spawn_app().await;
    let mut raw = upgraded(&app, &frame(true, TEXT, &subscribe("nope"))).await;
    let reply = raw.json().await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "unknown_channel");
}

#[tokio::test]
async fn fragments_are_joined_and_pings_answered() {
    let app = spawn_app().await;
    let mut raw = upgraded(&app, &[]).await;
    let message = subscribe("nope");
    let (a, b) = message.split_at(7);
    let (b, c) = b.split_at(9);
    raw.send(&frame(false, TEXT, a)).await;
    raw.send(&frame(false, CONTINUATION, b)).await;
    // A control frame may come between fragments.
    raw.send(&frame(true, PING, b"hi")).await;
    raw.send(&frame(true, CONTINUATION, c)).await;
    assert_eq!(raw.data().await, (PONG, b"hi".to_vec()));
    assert_eq!(raw.json().await["code"], "unknown_channel");

    raw.send(&frame(true, BINARY, b"{}")).await;
    assert_eq!(raw.json().await["code"], "bad_frame");
    app.wait_connections(1).await;

    // The client closes: the server answers with a close and ends the connection.
    raw.send(&frame(true, CLOSE, &1000u16.to_be_bytes())).await;
    let (opcode, _) = raw.data().await;
    assert_eq!(opcode, CLOSE);
    raw.rest().await;
    app.wait_connections(0).await;
}

#[tokio::test]
async fn broken_messages_close_with_their_code() {
    let app = spawn_app().await;
    // Text that is not UTF-8: 1007.
    let mut raw = upgraded(&app, &frame(true, TEXT, &[0x7b, 0xff, 0xfe, 0x7d])).await;
    assert_eq!(raw.closed_with().await, 1007);
    // A frame over the 4 KiB limit: 1009.
    let big = vec![b' '; 5000];
    let mut raw = upgraded(&app, &frame(true, TEXT, &big)).await;
    assert_eq!(raw.closed_with().await, 1009);
    // Fragments over the limit together: 1009.
    let mut raw = upgraded(&app, &[]).await;
    raw.send(&frame(false, TEXT, &big[..3000])).await;
    raw.send(&frame(true, CONTINUATION, &big[..3000])).await;
    assert_eq!(raw.closed_with().await, 1009);
    // An unmasked client frame: 1002.
    let mut raw = upgraded(&app, &[]).await;
    raw.send(&[0x81, 0x02, b'{', b'}']).await;
    assert_eq!(raw.closed_with().await, 1002);
    // A continuation that continues nothing: 1002.
    let mut raw = upgraded(&app, &[]).await;
    raw.send(&frame(true, CONTINUATION, b"x")).await;
    assert_eq!(raw.closed_with().await, 1002);
    app.wait_connections(0).await;
    // None of this held the server up.
    let user = app.seller();
    let mut ws = app.connect(&user).await;
    crate::helpers::send(
        &mut ws,
        serde_json::json!({"type": "subscribe", "channel": "nope"}),
    )
    .await;
    assert_eq!(
        crate::helpers::next_frame(&mut ws).await["code"],
        "unknown_channel"
    );
}
