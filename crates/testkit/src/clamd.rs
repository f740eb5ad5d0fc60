//! A clamd stand-in: a TCP server speaking clamd's INSTREAM protocol that finds exactly one
//! virus, the EICAR test file, so tests scan without ClamAV and its signature database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The standard 68-byte EICAR anti-virus test file. Built from two halves so this source
/// file is not itself flagged by a virus scanner.
pub const EICAR: &[u8] = concat!(
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
    "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
)
.as_bytes();

/// What clamd calls the EICAR signature.
pub const EICAR_SIGNATURE: &str = "Eicar-Test-Signature";

/// clamd's default `StreamMaxLength` (100 MiB).
const DEFAULT_STREAM_MAX: usize = 100 * 1024 * 1024;

/// A clamd on `127.0.0.1:<spare port>`: answers `PING` with `PONG` and `INSTREAM` with
/// `stream: Eicar-Test-Signature FOUND` when the streamed bytes contain [`EICAR`],
/// `stream: OK` otherwise, and `INSTREAM size limit exceeded. ERROR` past its stream limit.
/// Commands may be `z`-prefixed (NUL-terminated) or `n`-prefixed (newline-terminated), as
/// with clamd. Stops when dropped.
pub struct ClamdStandIn {
    addr: SocketAddr,
    scans: Arc<AtomicUsize>,
    server: JoinHandle<()>,
}

impl ClamdStandIn {
    pub async fn start() -> Self {
        Self::start_with_stream_max(DEFAULT_STREAM_MAX).await
    }

    /// A stand-in that refuses streams longer than `stream_max` bytes, as clamd does past
    /// its `StreamMaxLength`.
    pub async fn start_with_stream_max(stream_max: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the clamd stand-in");
        let addr = listener.local_addr().expect("clamd stand-in address");
        let scans = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&scans);
        let server = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut connections = JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let counter = Arc::clone(&counter);
                connections.spawn(async move {
                    let _ = serve(socket, &counter, stream_max).await;
                });
            }
        });
        Self {
            addr,
            scans,
            server,
        }
    }

    /// `127.0.0.1:<port>`, as `ClamdClient` takes it.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// How many INSTREAM sessions were started.
    pub fn scans(&self) -> usize {
        self.scans.load(Ordering::SeqCst)
    }
}

impl Drop for ClamdStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One connection: one command, one reply, then the connection closes (clamd outside
/// `IDSESSION`).
async fn serve(socket: TcpStream, scans: &AtomicUsize, stream_max: usize) -> std::io::Result<()> {
    let mut socket = BufReader::new(socket);
    let terminator = match socket.read_u8().await? {
        b'z' => 0,
        b'n' => b'\n',
        _ => {
            socket.write_all(b"UNKNOWN COMMAND\n").await?;
            return socket.shutdown().await;
        }
    };
    let mut command = Vec::new();
    (&mut socket)
        .take(64)
        .read_until(terminator, &mut command)
        .await?;
    if command.last() == Some(&terminator) {
        command.pop();
    }
    let reply: &[u8] = match command.as_slice() {
        b"PING" => b"PONG",
        b"VERSION" => b"ClamAV 1.4.0/testkit stand-in",
        b"INSTREAM" => {
            scans.fetch_add(1, Ordering::SeqCst);
            match read_stream(&mut socket, stream_max).await? {
                None => b"INSTREAM size limit exceeded. ERROR",
                Some(data) if contains(&data, EICAR) => b"stream: Eicar-Test-Signature FOUND",
                Some(_) => b"stream: OK",
            }
        }
        _ => b"UNKNOWN COMMAND",
    };
    socket.write_all(reply).await?;
    socket.write_all(&[terminator]).await?;
    socket.shutdown().await
}

/// The chunks up to the zero-length one, or `None` once they pass `stream_max`.
async fn read_stream(
    socket: &mut BufReader<TcpStream>,
    stream_max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    loop {
        let len = socket.read_u32().await? as usize;
        if len == 0 {
            return Ok(Some(data));
        }
        if data.len() + len > stream_max {
            return Ok(None);
        }
        let start = data.len();
        data.resize(start + len, 0);
        socket.read_exact(&mut data[start..]).await?;
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exchange(addr: &str, request: &[u8]) -> Vec<u8> {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket.write_all(request).await.unwrap();
        let mut reply = Vec::new();
        socket.read_to_end(&mut reply).await.unwrap();
        reply
    }

    fn instream(data: &[u8]) -> Vec<u8> {
        let mut request = b"zINSTREAM\0".to_vec();
        for chunk in data.chunks(1000) {
            request.extend((chunk.len() as u32).to_be_bytes());
            request.extend(chunk);
        }
        request.extend([0, 0, 0, 0]);
        request
    }

    #[test]
    fn eicar_is_the_standard_68_byte_test_file() {
        assert_eq!(EICAR.len(), 68);
        assert!(EICAR.starts_with(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"));
        assert!(EICAR.ends_with(b"-ANTIVIRUS-TEST-FILE!$H+H*"));
    }

    #[tokio::test]
    async fn ping_is_answered_with_pong() {
        let clamd = ClamdStandIn::start().await;
        assert_eq!(exchange(&clamd.addr(), b"zPING\0").await, b"PONG\0");
        assert_eq!(exchange(&clamd.addr(), b"nPING\n").await, b"PONG\n");
        assert_eq!(clamd.scans(), 0);
    }

    #[tokio::test]
    async fn a_stream_containing_eicar_is_found_and_others_are_ok() {
        let clamd = ClamdStandIn::start().await;
        let mut infected = vec![b'a'; 1500];
        infected.extend(EICAR);
        assert_eq!(
            exchange(&clamd.addr(), &instream(&infected)).await,
            b"stream: Eicar-Test-Signature FOUND\0"
        );
        assert_eq!(
            exchange(&clamd.addr(), &instream(b"harmless")).await,
            b"stream: OK\0"
        );
        assert_eq!(clamd.scans(), 2);
    }

    #[tokio::test]
    async fn a_stream_past_the_limit_is_refused_like_clamd() {
        let clamd = ClamdStandIn::start_with_stream_max(100).await;
        let mut socket = TcpStream::connect(clamd.addr()).await.unwrap();
        socket.write_all(b"zINSTREAM\0").await.unwrap();
        socket.write_all(&200u32.to_be_bytes()).await.unwrap();
        let mut reply = Vec::new();
        socket.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"INSTREAM size limit exceeded. ERROR\0");
    }

    #[tokio::test]
    async fn an_unknown_command_is_answered_as_unknown() {
        let clamd = ClamdStandIn::start().await;
        assert_eq!(
            exchange(&clamd.addr(), b"zSHUTDOWN\0").await,
            b"UNKNOWN COMMAND\0"
        );
    }

    #[tokio::test]
    async fn the_stand_in_stops_when_dropped() {
        let clamd = ClamdStandIn::start().await;
        let addr = clamd.addr();
        drop(clamd);
        crate::wait_until(
            std::time::Duration::from_secs(5),
            "the port to close",
            || {
                let addr = addr.clone();
                async move { TcpStream::connect(addr).await.is_err() }
            },
        )
        .await;
    }
}
