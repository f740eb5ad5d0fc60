//! A clamd client (INSTREAM).
//!
//! The protocol: `zINSTREAM\0`, then the bytes as chunks of `[u32 big-endian length][data]`,
//! a zero-length chunk to end, and one NUL-terminated reply: `stream: OK`,
//! `stream: <signature> FOUND`, or an error such as `INSTREAM size limit exceeded. ERROR`.

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// clamd's default `StreamMaxLength` is far larger; chunks just have to be bounded.
const CHUNK: usize = 64 * 1024;
/// Replies are one short line; anything longer is not clamd.
const MAX_REPLY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanVerdict {
    Clean,
    /// The signature name clamd reported.
    Infected(String),
}

#[derive(Debug, Clone)]
pub struct ClamdClient {
    pub addr: String,
    pub timeout: std::time::Duration,
}

impl ClamdClient {
    pub fn new(addr: impl Into<String>, timeout: std::time::Duration) -> Self {
        Self {
            addr: addr.into(),
            timeout,
        }
    }

    /// Streams `bytes` to clamd and reads its verdict; the whole exchange (connect
    /// included) is bounded by `timeout`. An error means "not scanned", never "clean".
    #[tracing::instrument(skip(self, bytes), fields(addr = %self.addr, len = bytes.len()))]
    pub async fn scan(&self, bytes: &[u8]) -> anyhow::Result<ScanVerdict> {
        let reply = tokio::time::timeout(self.timeout, self.exchange(bytes))
            .await
            .map_err(|_| {
                anyhow!(
                    "clamd at {} did not answer within {:?}",
                    self.addr,
                    self.timeout
                )
            })??;
        parse_reply(&reply)
    }

    async fn exchange(&self, bytes: &[u8]) -> anyhow::Result<String> {
        let mut stream = TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("connect to clamd at {}", self.addr))?;
        let sent = send_instream(&mut stream, bytes).await;
        // clamd answers and hangs up early on a size limit; its reply says more than the
        // broken pipe the write then ran into.
        let reply = read_reply(&mut stream).await;
        match (sent, reply) {
            (_, Ok(reply)) if !reply.is_empty() => Ok(reply),
            (Err(e), _) => Err(e).context("stream the file to clamd"),
            (Ok(()), Err(e)) => Err(e).context("read clamd's reply"),
            (Ok(()), Ok(_)) => bail!("clamd closed the connection without a reply"),
        }
    }
}

async fn send_instream(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(b"zINSTREAM\0").await?;
    for chunk in bytes.chunks(CHUNK) {
        // A chunk is at most 64 KiB, so its length fits.
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        stream.write_all(&len.to_be_bytes()).await?;
        stream.write_all(chunk).await?;
    }
    stream.write_all(&0u32.to_be_bytes()).await?;
    stream.flush().await
}

/// Up to the NUL (or the end of the connection), at most `MAX_REPLY` bytes.
async fn read_reply(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = stream.read(&mut buf).await?;
        let Some(read) = buf.get(..n).filter(|read| !read.is_empty()) else {
            break;
        };
        if let Some(nul) = read.iter().position(|&b| b == 0) {
            reply.extend_from_slice(read.get(..nul).unwrap_or_default());
            break;
        }
        reply.extend_from_slice(read);
        if reply.len() > MAX_REPLY {
            break;
        }
    }
    reply.truncate(MAX_REPLY);
    Ok(String::from_utf8_lossy(&reply).trim().to_owned())
}

fn parse_reply(reply: &str) -> anyhow::Result<ScanVerdict> {
    let verdict = reply.strip_prefix("stream: ").map(str::trim);
    match verdict {
        Some("OK") => Ok(ScanVerdict::Clean),
        Some(found) => match found.strip_suffix(" FOUND").map(str::trim) {
            Some(signature) if !signature.is_empty() => {
                Ok(ScanVerdict::Infected(signature.to_owned()))
            }
            _ => bail!("clamd answered: {reply}"),
        },
        None => bail!("clamd answered: {reply}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use testkit::{ClamdStandIn, EICAR};
    use tokio::net::TcpListener;

    use super::*;

    fn client(addr: String) -> ClamdClient {
        ClamdClient::new(addr, Duration::from_secs(5))
    }

    /// A server that reads a whole (small) request and answers `reply`, to stand in for
    /// clamd's errors.
    async fn answering(reply: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(&[0, 0, 0, 0]) {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            socket.write_all(reply).await.unwrap();
            socket.shutdown().await.unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn clean_bytes_are_reported_clean() {
        let clamd = ClamdStandIn::start().await;
        let verdict = client(clamd.addr()).scan(b"%PDF-1.7 nothing to see").await;
        assert_eq!(verdict.unwrap(), ScanVerdict::Clean);
        assert_eq!(clamd.scans(), 1);
    }

    #[tokio::test]
    async fn the_eicar_test_file_is_reported_infected_with_its_signature() {
        let clamd = ClamdStandIn::start().await;
        let verdict = client(clamd.addr()).scan(EICAR).await.unwrap();
        assert_eq!(
            verdict,
            ScanVerdict::Infected("Eicar-Test-Signature".into())
        );
    }

    #[tokio::test]
    async fn a_large_file_is_streamed_in_chunks_and_scanned_whole() {
        let clamd = ClamdStandIn::start().await;
        // EICAR straddles the first chunk boundary.
        let mut bytes = vec![b'x'; CHUNK - 30];
        bytes.extend_from_slice(EICAR);
        bytes.extend(vec![b'y'; 3 * CHUNK]);
        let verdict = client(clamd.addr()).scan(&bytes).await.unwrap();
        assert_eq!(
            verdict,
            ScanVerdict::Infected("Eicar-Test-Signature".into())
        );
        let clean = vec![7u8; 5 * CHUNK + 1];
        assert_eq!(
            client(clamd.addr()).scan(&clean).await.unwrap(),
            ScanVerdict::Clean
        );
        assert_eq!(clamd.scans(), 2);
    }

    #[tokio::test]
    async fn an_empty_file_is_scanned() {
        let clamd = ClamdStandIn::start().await;
        assert_eq!(
            client(clamd.addr()).scan(b"").await.unwrap(),
            ScanVerdict::Clean
        );
    }

    #[tokio::test]
    async fn a_file_past_clamds_stream_limit_is_an_error_not_clean() {
        let clamd = ClamdStandIn::start_with_stream_max(1000).await;
        let result = client(clamd.addr()).scan(&vec![b'a'; 4 * CHUNK]).await;
        assert!(result.is_err(), "{result:?}");
    }

    #[tokio::test]
    async fn a_clamd_error_reply_is_an_error() {
        let addr = answering(b"INSTREAM size limit exceeded. ERROR\0").await;
        let err = client(addr).scan(b"some bytes").await.unwrap_err();
        assert!(
            format!("{err:#}").contains("size limit exceeded"),
            "{err:#}"
        );
    }

    #[tokio::test]
    async fn a_connection_closed_without_a_reply_is_an_error() {
        let addr = answering(b"").await;
        assert!(client(addr).scan(b"some bytes").await.is_err());
    }

    #[tokio::test]
    async fn a_clamd_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let silent = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(socket);
        });
        let started = std::time::Instant::now();
        let result = ClamdClient::new(addr, Duration::from_millis(300))
            .scan(b"bytes")
            .await;
        assert!(format!("{:#}", result.unwrap_err()).contains("did not answer"));
        assert!(started.elapsed() < Duration::from_secs(5));
        silent.abort();
    }

    #[tokio::test]
    async fn an_unreachable_clamd_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        assert!(client(addr).scan(b"bytes").await.is_err());
    }

    #[test]
    fn replies_are_parsed_into_verdicts_or_errors() {
        assert_eq!(parse_reply("stream: OK").unwrap(), ScanVerdict::Clean);
        assert_eq!(
            parse_reply("stream: Win.Test.EICAR_HDB-1 FOUND").unwrap(),
            ScanVerdict::Infected("Win.Test.EICAR_HDB-1".into())
        );
        assert!(parse_reply("stream:  FOUND").is_err());
        assert!(parse_reply("INSTREAM size limit exceeded. ERROR").is_err());
        assert!(parse_reply("stream: lstat() failed. ERROR").is_err());
        assert!(parse_reply("").is_err());
    }
}
