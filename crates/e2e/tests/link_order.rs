//! The linker driver of x86_64 Linux builds (`.cargo/cc-order.sh`; docs/decisions.md,
//! "Code laid out in the order it runs"): a release binary's functions named in the
//! order list are placed first, in the list's order, matched without their hash; any
//! other link is left as `cc` makes it. Checked on a small C program linked the way rustc
//! links (cc with rustc's own lld), by symbol addresses.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAM: &str = r#"
int cold_a(int x) { return x * 3 + 1; }
int _ZN4demo3hot17h0123456789abcdefE(int x) { return x * 5 + 2; }
int cold_c(int x) { return x * 7 + 3; }
int hot_d(int x) { return x * 11 + 4; }
int main(int argc, char **argv) {
    (void)argv;
    return cold_a(argc) + _ZN4demo3hot17h0123456789abcdefE(argc) + cold_c(argc) + hot_d(argc);
}
"#;

fn driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cargo/cc-order.sh")
}

/// rustc's own lld, as rustc passes it to cc.
fn lld_dir() -> PathBuf {
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = String::from_utf8(out.stdout).unwrap();
    Path::new(sysroot.trim()).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld")
}

/// Compiles the program with a section per function into `dir`.
fn object(dir: &Path) -> PathBuf {
    let src = dir.join("program.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let obj = dir.join("program.o");
    let status = Command::new("cc")
        .args(["-c", "-O1", "-ffunction-sections", "-fno-inline"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap();
    assert!(status.success());
    obj
}

/// Links `obj` into `out` through the driver (with `order` as VESTIO_LINK_ORDER) and
/// answers the address of each function.
fn link(obj: &Path, out: &Path, order: &str) -> HashMap<String, u64> {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let output = Command::new("bash")
        .arg(driver())
        .arg(format!("-B{}", lld_dir().display()))
        .arg("-fuse-ld=lld")
        .arg(obj)
        .arg("-o")
        .arg(out)
        .env("VESTIO_LINK_ORDER", order)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "link failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let nm = Command::new("nm").arg(out).output().unwrap();
    String::from_utf8(nm.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            let addr = u64::from_str_radix(p.next()?, 16).ok()?;
            let _kind = p.next()?;
            Some((p.next()?.to_owned(), addr))
        })
        .collect()
}

/// The program's functions in its own (source and object) order.
const FUNCTIONS: [&str; 4] = [
    "cold_a",
    "_ZN4demo3hot17h0123456789abcdefE",
    "cold_c",
    "hot_d",
];

fn order_of(addrs: &HashMap<String, u64>) -> Vec<&'static str> {
    let mut names = FUNCTIONS.to_vec();
    names.sort_by_key(|n| addrs[*n]);
    names
}

#[test]
fn a_release_binary_has_the_listed_functions_first_in_the_lists_order() {
    let dir = tempfile::tempdir().unwrap();
    let obj = object(dir.path());
    let list = dir.path().join("order.txt");
    // As `make link-order` writes it: a flag per service (this program is the first),
    // each function without its hash. `cold_c` is another service's only: not moved; a
    // name the program lacks is skipped.
    std::fs::write(
        &list,
        "# test list\n# services: program other\n01 cold_c\n10 hot_d\n11 not_in_this_binary\n11 _ZN4demo3hotE\n",
    )
    .unwrap();
    let list = list.to_str().unwrap();

    let release = link(&obj, &dir.path().join("release/deps/program"), list);
    assert_eq!(
        order_of(&release),
        [
            "hot_d",
            "_ZN4demo3hot17h0123456789abcdefE",
            "cold_a",
            "cold_c"
        ]
    );

    // The same link without ordering (turned off, or not a release binary) keeps the
    // object's own order.
    let off = link(&obj, &dir.path().join("off/release/deps/program"), "off");
    assert_eq!(order_of(&off), FUNCTIONS);
    let debug = link(&obj, &dir.path().join("debug/deps/program"), list);
    assert_eq!(order_of(&debug), FUNCTIONS);
}
