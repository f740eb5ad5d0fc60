//! The WebSocket protocol (RFC 6455) on the connection the kit hands over once the
//! handshake is answered (`service_kit::http::Handover`): frames decoded and encoded by
//! actix-http's codec, with buffers that exist only while they hold something. An idle
//! connection holds none: it waits for the socket to become readable without a buffer,
//! and a frame sent is encoded into a buffer freed once the kernel took it. (Left in
//! actix-web's HTTP dispatcher, each connection kept 8 KiB to read and 8 KiB to write for
//! its whole life.)

use std::io;
use std::time::Duration;

use actix_codec::{Decoder as _, Encoder as _};
use actix_http::ws::{CloseCode, CloseReason, Codec, Frame, Item, Message, ProtocolError};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// Read from the socket this much at a time.
const READ_CHUNK: usize = 1024;

/// How long a closing connection waits for the client's close frame (RFC 6455 §7.1.1:
/// the client closes TCP after it; a client that never answers is dropped).
const CLOSE_REPLY_WITHIN: Duration = Duration::from_secs(2);

/// A client message (a fragmented one joined).
#[derive(Debug)]
pub enum Incoming {
    Text(ByteString),
    Binary,
    Ping(Bytes),
    Pong,
    Close,
}

/// Why the client's frames cannot be read on: what to close with.
#[derive(Debug)]
pub enum Broken {
    /// Not the protocol: 1002.
    Protocol(ProtocolError),
    /// A text message that is not UTF-8: 1007.
    NotUtf8,
    /// A message (or its fragments together) over the limit: 1009.
    TooBig,
    /// The connection failed: nothing can be sent any more.
    Io(io::Error),
}

impl Broken {
    /// The close frame to send, if one can be.
    pub fn close_reason(&self) -> Option<CloseReason> {
        let (code, description) = match self {
            Broken::Protocol(ProtocolError::Overflow) | Broken::TooBig => {
                (CloseCode::Size, "message too big")
            }
            Broken::Protocol(_) => (CloseCode::Protocol, "protocol error"),
            Broken::NotUtf8 => (CloseCode::Invalid, "text frames are UTF-8"),
            Broken::Io(_) => return None,
        };
        Some(CloseReason {
            code,
            description: Some(description.into()),
        })
    }
}

impl From<ProtocolError> for Broken {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::Io(e) => Broken::Io(e),
            e => Broken::Protocol(e),
        }
    }
}

/// One WebSocket connection, server side.
pub struct Socket {
    io: TcpStream,
    codec: Codec,
    /// Received and not decoded yet (empty, and without an allocation, between frames).
    read: BytesMut,
    /// Encoded and not written yet: what an interrupted send left, written before
    /// anything sent next so that frames stay whole.
    write: BytesMut,
    /// A fragmented message being joined: whether it is text, and its bytes so far.
    fragments: Option<(bool, BytesMut)>,
    max_message: usize,
    /// The client sent its close frame: ours is the answer, nothing more comes.
    client_closed: bool,
}

impl Socket {
    /// The connection on `io`, where `read` is what the client sent after its handshake
    /// request; client messages over `max_message` bytes close it (1009).
    pub fn new(io: TcpStream, read: BytesMut, max_message: usize) -> Self {
        Self {
            io,
            codec: Codec::new().max_size(max_message),
            read,
            write: BytesMut::new(),
            fragments: None,
            max_message,
            client_closed: false,
        }
    }

    /// The client's next message; `None` once it closed the connection. Cancel-safe:
    /// what was read stays for the next call.
    pub async fn recv(&mut self) -> Result<Option<Incoming>, Broken> {
        loop {
            while let Some(frame) = self.codec.decode(&mut self.read)? {
                if let Some(message) = self.join(frame)? {
                    self.release_read();
                    return Ok(Some(message));
                }
            }
            self.release_read();
            self.io.readable().await.map_err(Broken::Io)?;
            self.read.reserve(READ_CHUNK);
            match self.io.try_read_buf(&mut self.read) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Broken::Io(e)),
            }
        }
    }

    /// Frees the read buffer once everything in it is decoded (a frame's bytes are
    /// shared with it until the frame is dropped).
    fn release_read(&mut self) {
        if self.read.is_empty() && self.read.capacity() > 0 {
            self.read = BytesMut::new();
        }
    }

    /// A frame as a message: data frames and fragmented messages joined (the codec
    /// checks that fragments start, go on and end in order).
    fn join(&mut self, frame: Frame) -> Result<Option<Incoming>, Broken> {
        let (text, bytes) = match frame {
            Frame::Text(bytes) => (true, bytes),
            Frame::Binary(_) => return Ok(Some(Incoming::Binary)),
            Frame::Ping(bytes) => return Ok(Some(Incoming::Ping(bytes))),
            Frame::Pong(_) => return Ok(Some(Incoming::Pong)),
            Frame::Close(_) => {
                self.client_closed = true;
                return Ok(Some(Incoming::Close));
            }
            Frame::Continuation(Item::FirstText(bytes)) => {
                self.fragments = Some((true, BytesMut::from(&bytes[..])));
                return Ok(None);
            }
            Frame::Continuation(Item::FirstBinary(bytes)) => {
                self.fragments = Some((false, BytesMut::from(&bytes[..])));
                return Ok(None);
            }
            Frame::Continuation(Item::Continue(bytes)) => {
                self.fragment(&bytes)?;
                return Ok(None);
            }
            Frame::Continuation(Item::Last(bytes)) => {
                self.fragment(&bytes)?;
                let (text, joined) = self
                    .fragments
                    .take()
                    .ok_or(Broken::Protocol(ProtocolError::ContinuationNotStarted))?;
                (text, joined.freeze())
            }
        };
        if !text {
            return Ok(Some(Incoming::Binary));
        }
        ByteString::try_from(bytes)
            .map(|text| Some(Incoming::Text(text)))
            .map_err(|_| Broken::NotUtf8)
    }

    fn fragment(&mut self, bytes: &[u8]) -> Result<(), Broken> {
        let (_, joined) = self
            .fragments
            .as_mut()
            .ok_or(Broken::Protocol(ProtocolError::ContinuationNotStarted))?;
        if joined.len() + bytes.len() > self.max_message {
            return Err(Broken::TooBig);
        }
        joined.extend_from_slice(bytes);
        Ok(())
    }

    /// Sends `message`. If the send is dropped before the client's kernel took all of it,
    /// the rest goes first with the next send.
    pub async fn send(&mut self, message: Message) -> io::Result<()> {
        self.codec
            .encode(message, &mut self.write)
            .map_err(io::Error::other)?;
        while !self.write.is_empty() {
            if self.io.write_buf(&mut self.write).await? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        self.write = BytesMut::new();
        Ok(())
    }

    /// Closes the connection: after what an interrupted send left, the close frame with
    /// `reason`, then (briefly, unless ours answers the client's) the client's close
    /// frame, then TCP. The caller bounds how
    /// long a client that reads nothing may hold this.
    pub async fn close(mut self, reason: Option<CloseReason>) {
        if self.send(Message::Close(reason)).await.is_err() || self.client_closed {
            let _ = self.io.shutdown().await;
            return;
        }
        let _ = tokio::time::timeout(CLOSE_REPLY_WITHIN, async {
            while let Ok(Some(message)) = self.recv().await {
                if matches!(message, Incoming::Close) {
                    break;
                }
            }
        })
        .await;
        let _ = self.io.shutdown().await;
    }
}
