//! `make run`'s wait for its Redis (scripts/lib.sh `wait_for_redis`, called by
//! scripts/run.sh before any service starts): a Redis that accepts connections but answers
//! LOADING is waited for, with a message, until it answers PONG. And its supervision
//! (scripts/lib.sh `supervise`, one per process of the stack): a process that dies is
//! started again, and one told to stop stays stopped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use testkit::RedisServer;

const DEADLINE: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `wait_for_redis PORT '' LIMIT` in bash, its output lines sent on the channel.
fn wait_for_redis(port: u16, limit_secs: u32) -> (Child, mpsc::Receiver<String>) {
    lib_sh(&format!("wait_for_redis {port} '' {limit_secs}"), &[])
}

/// `script` in bash after sourcing scripts/lib.sh with `env`, its output lines sent on
/// the channel.
fn lib_sh(script: &str, env: &[(&str, &Path)]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("source scripts/lib.sh && {script}"))
        .envs(env.iter().copied())
        .current_dir(workspace())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    for out in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    (child, rx)
}

/// The next line that contains `text`, within the deadline.
fn expect_line(rx: &mpsc::Receiver<String>, text: &str) -> String {
    let start = Instant::now();
    loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line with {text:?} within {DEADLINE:?}"));
        if line.contains(text) {
            return line;
        }
    }
}

/// Until `ready` gives a value, within the deadline.
fn eventually<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    eventually("the script exits", || child.try_wait().unwrap())
}

#[test]
fn the_run_script_waits_while_redis_loads_and_goes_on_once_it_answers_pong() {
    let redis = RedisServer::start_loading();
    let (mut child, rx) = wait_for_redis(redis.port, 600);
    expect_line(&rx, "loading its dataset");
    // It said so while Redis was loading, and it is still waiting.
    assert!(redis.is_loading());
    assert!(
        child.try_wait().unwrap().is_none(),
        "it must wait, not go on"
    );

    redis.finish_loading();
    assert!(wait_exit(&mut child).success());
    expect_line(&rx, "Redis      ready after");
    assert_eq!(redis.cli(&["PING"]), "PONG");
}

#[test]
fn the_run_script_waits_for_a_redis_that_is_not_up_yet() {
    let mut redis = RedisServer::not_started();
    let (mut child, rx) = wait_for_redis(redis.port, 600);
    expect_line(&rx, "not answering yet");
    assert!(
        child.try_wait().unwrap().is_none(),
        "it must wait, not go on"
    );

    redis.spawn();
    assert!(wait_exit(&mut child).success());
}

#[test]
fn the_run_script_gives_up_with_a_clear_error_when_redis_never_answers() {
    let redis = RedisServer::not_started();
    let (mut child, rx) = wait_for_redis(redis.port, 1);
    let status = wait_exit(&mut child);
    assert!(!status.success());
    expect_line(&rx, "is not ready after 1 s (not answering yet)");
}

#[test]
fn the_run_script_waits_for_its_redis_with_wait_for_redis_before_any_service() {
    let script = std::fs::read_to_string(workspace().join("scripts/run.sh")).unwrap();
    let wait = script
        .find("wait_for_redis \"$REDIS_PORT\"")
        .expect("run.sh waits for its Redis");
    let services = script.find("# --- services").unwrap();
    assert!(wait < services, "the wait comes before the services start");
}

fn alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn signal(signal: &str, pid: u32) {
    assert!(
        Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// `supervise NAME LOG COMMAND` under a data directory of its own.
struct Supervised {
    dir: tempfile::TempDir,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Supervised {
    fn start(command: &str, backoff: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        let (child, lines) = lib_sh(
            &format!(
                "SUPERVISE_BACKOFF=1 SUPERVISE_MAX_BACKOFF={backoff} supervise worker \
                 \"$DATA_DIR/worker.log\" {command}"
            ),
            &[("DATA_DIR", dir.path())],
        );
        Self { dir, child, lines }
    }

    /// The worker's pid as the pid file has it now.
    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("run/worker.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn exits(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("run/worker.exits"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn a_supervised_process_killed_with_sigkill_is_started_again_and_the_exit_is_said() {
    let mut s = Supervised::start("sleep 300", "30");
    let first = eventually("the first pid", || s.pid());
    assert!(alive(first));

    signal("-KILL", first);
    let second = eventually("a new pid", || s.pid().filter(|&p| p != first));
    assert!(alive(second), "the new process runs");
    assert!(!alive(first));
    let line = expect_line(&s.lines, "worker exited");
    assert!(line.contains("(status 137)"), "{line}");
    assert!(line.contains("restarting it in 1 s"), "{line}");
    let exits = s.exits();
    assert_eq!(exits.len(), 1, "{exits:?}");
    assert_eq!(exits[0].split(' ').nth(1), Some("137"), "{exits:?}");

    // Told to stop, it stops the process and starts none again.
    signal("-TERM", s.child.id());
    assert!(wait_exit(&mut s.child).success());
    assert!(!alive(second), "the process is stopped with its supervisor");
    assert_eq!(s.pid(), None, "the pid file is removed");
    assert_eq!(s.exits().len(), 1, "a planned stop is not an exit");
}

#[test]
fn a_process_that_keeps_dying_is_restarted_after_pauses_that_double_up_to_the_limit() {
    let mut s = Supervised::start("false", "2");
    for pause in ["1 s", "2 s", "2 s"] {
        let line = expect_line(&s.lines, "worker exited");
        assert!(line.contains("(status 1)"), "{line}");
        assert!(
            line.contains(&format!("restarting it in {pause}")),
            "{line}"
        );
    }
    assert!(s.exits().len() >= 3);

    // TERM while it waits to restart: it stops at once, nothing is left.
    signal("-TERM", s.child.id());
    assert!(wait_exit(&mut s.child).success());
    assert_eq!(s.pid(), None);
}

#[test]
fn make_run_starts_every_process_of_the_stack_under_supervision() {
    let script = std::fs::read_to_string(workspace().join("scripts/run.sh")).unwrap();
    for process in ["redis", "sandbox-provider", "\"$name\"", "gateway"] {
        assert!(
            script.contains(&format!("start {process} ")),
            "run.sh starts {process} with start (under supervise)"
        );
    }
    assert!(
        !script.contains("wait -n"),
        "one process's exit no longer ends the stack"
    );
}
