//! A real browser for tests: Debian's `chromium`, headless, driven through
//! `chromedriver` over the W3C WebDriver protocol (plain HTTP and JSON, so reqwest is the
//! whole client). `.ci/run` installs both (scripts/ensure-test-tools.sh).
//!
//! Every lookup waits for its condition with a deadline ([`Browser::find`],
//! [`Browser::wait_text`]); nothing sleeps.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// How long a lookup waits for the page by default.
pub const WAIT: Duration = Duration::from_secs(20);
/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn chromium() -> PathBuf {
    // The binary itself: Debian's /usr/bin/chromium is a launcher script.
    ["/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("chromium is not installed: apt-get install -y chromium chromium-driver (.ci/run installs it)")
}

fn chromedriver() -> PathBuf {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("chromedriver is not installed: apt-get install -y chromium-driver (.ci/run installs it)")
}

/// A headless Chromium session; closes the browser and its driver when dropped.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// An element of the page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium with a fresh profile.
    pub async fn start() -> anyhow::Result<Self> {
        let port = crate::spare_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("chromedriver did not start")?;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        crate::wait_until(Duration::from_secs(20), "chromedriver ready", || async {
            match http.get(format!("{base}/status")).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            }
        })
        .await;
        let profile = tempfile::tempdir()?;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    "--no-first-run", "--no-default-browser-check",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let session = res["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no WebDriver session: {res}"))?
            .to_owned();
        Ok(Self {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            _profile: profile,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req.send().await?.json().await?;
        if let Some(error) = res["value"]["error"].as_str() {
            bail!("WebDriver {path}: {error}: {}", res["value"]["message"]);
        }
        Ok(res["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// Reloads the page.
    pub async fn reload(&self) -> anyhow::Result<()> {
        self.post("/refresh", json!({})).await.map(drop)
    }

    /// The elements matching `css` now (maybe none).
    pub async fn find_all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let found = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
            .collect())
    }

    /// The first element matching `css` that is displayed, waiting up to [`WAIT`].
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        self.poll(
            || async {
                for e in self.find_all(css).await? {
                    if self.displayed(&e).await.unwrap_or(false) {
                        return Ok(Some(e));
                    }
                }
                Ok(None)
            },
            || format!("no displayed element matches {css:?} after {WAIT:?}"),
        )
        .await
    }

    /// Tries `attempt` every 50 ms until it answers `Some` or [`WAIT`] has passed. An
    /// attempt that fails (an element replaced while it was read: "stale element
    /// reference") is tried again; `missing` says what never came, with the last error.
    async fn poll<T, F, Fut>(
        &self,
        mut attempt: F,
        missing: impl FnOnce() -> String,
    ) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last_error = None;
        loop {
            match attempt().await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(e) => last_error = Some(e),
            }
            if tokio::time::Instant::now() >= deadline {
                match last_error {
                    Some(e) => bail!("{} (last error: {e:#})", missing()),
                    None => bail!("{}", missing()),
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn displayed(&self, e: &Element) -> anyhow::Result<bool> {
        Ok(self
            .get(&format!("/element/{}/displayed", e.0))
            .await?
            .as_bool()
            .unwrap_or(false))
    }

    /// Whether some element matching `css` is displayed now.
    pub async fn is_shown(&self, css: &str) -> anyhow::Result<bool> {
        for e in self.find_all(css).await? {
            if self.displayed(&e).await.unwrap_or(false) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Clicks the first displayed element matching `css` (looked up again if replaced).
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.on_element(css, |e| async move { self.click_on(&e).await })
            .await
    }

    pub async fn click_on(&self, e: &Element) -> anyhow::Result<()> {
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .await
            .map(drop)
    }

    /// Clears the field `css` and types `text` into it (looked up again if replaced).
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.on_element(css, |e| async move {
            self.post(&format!("/element/{}/clear", e.0), json!({}))
                .await?;
            self.post(&format!("/element/{}/value", e.0), json!({ "text": text }))
                .await
                .map(drop)
        })
        .await
    }

    /// Does `act` on the first displayed element matching `css`; if the page replaced the
    /// element between the lookup and the act (a list re-rendered by a live update), looks
    /// it up again, until [`WAIT`].
    async fn on_element<T, F, Fut>(&self, css: &str, act: F) -> anyhow::Result<T>
    where
        F: Fn(Element) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let e = self.find(css).await?;
            match act(e).await {
                Err(err) if stale(&err) && tokio::time::Instant::now() < deadline => continue,
                done => return done,
            }
        }
    }

    /// Chooses the option with value `value` of the select `css`.
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.click(&format!("{css} option[value=\"{value}\"]"))
            .await
    }

    /// The element's visible text.
    pub async fn text_of(&self, e: &Element) -> anyhow::Result<String> {
        Ok(self
            .get(&format!("/element/{}/text", e.0))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The visible text of the first displayed element matching `css` (looked up again
    /// if replaced).
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        self.on_element(css, |e| async move { self.text_of(&e).await })
            .await
    }

    /// A property of the element (`src`, `value`, `naturalWidth`).
    pub async fn property(&self, e: &Element, name: &str) -> anyhow::Result<Value> {
        self.get(&format!("/element/{}/property/{name}", e.0)).await
    }

    /// Waits (up to [`WAIT`]) until the text of `css` contains `needle`; answers the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> anyhow::Result<String> {
        let last = std::sync::Mutex::new(String::new());
        self.poll(
            || async {
                let Some(e) = self.find_all(css).await?.into_iter().next() else {
                    return Ok(None);
                };
                let text = self.text_of(&e).await.unwrap_or_default();
                if text.contains(needle) {
                    return Ok(Some(text));
                }
                *last.lock().unwrap_or_else(|p| p.into_inner()) = text;
                Ok(None)
            },
            || {
                let last = last.lock().unwrap_or_else(|p| p.into_inner());
                format!("{css:?} never said {needle:?} in {WAIT:?}; last: {last:?}")
            },
        )
        .await
    }

    /// Waits (up to [`WAIT`]) until `check` holds. A check that fails (an element
    /// replaced while it was read: "stale element reference") is tried again.
    pub async fn wait_until<F, Fut>(&self, what: &str, mut check: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<bool>>,
    {
        self.poll(
            || {
                let checked = check();
                async move { Ok(checked.await?.then_some(())) }
            },
            || format!("{what}: not after {WAIT:?}"),
        )
        .await
    }

    /// Runs `script` in the page (a function body; `arguments` holds `args`).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        use base64::Engine;
        let data = self.get("/screenshot").await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().context("no screenshot data")?)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    /// The browser console's messages since the last call (CSP violations appear here).
    pub async fn console_log(&self) -> anyhow::Result<Vec<String>> {
        let log = self.post("/se/log", json!({"type": "browser"})).await?;
        Ok(log
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                format!(
                    "{} {}",
                    m["level"].as_str().unwrap_or("?"),
                    m["message"].as_str().unwrap_or("")
                )
            })
            .collect())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session ends Chromium (a plain HTTP DELETE: no runtime here), then
        // the driver.
        let _ = delete(&self.session);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE url` over a plain socket, waiting for the answer.
fn delete(url: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(())
}

/// Whether a WebDriver error says the element left the page.
fn stale(err: &anyhow::Error) -> bool {
    err.to_string().contains("stale element reference")
}
