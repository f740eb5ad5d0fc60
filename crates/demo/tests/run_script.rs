//! `make run`'s wait for its Redis (scripts/lib.sh `wait_for_redis`, called by
//! scripts/run.sh before any service starts): a Redis that accepts connections but answers
//! LOADING is waited for, with a message, until it answers PONG.
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
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source scripts/lib.sh && wait_for_redis {port} '' {limit_secs}"
        ))
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

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < DEADLINE, "wait_for_redis did not return");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let build = script.find("cargo build").unwrap();
    assert!(wait < build, "the wait comes before the services start");
}
