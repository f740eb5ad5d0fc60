//! The layout every service keeps (ARCHITECTURE.md, "Inside each service"; docs/decisions.md,
//! issue 16), checked on the sources: each has the same rooms, a `domain/` free of actix,
//! sea-orm and Redis with its own error enum, a `main.rs` of a few lines, and no service
//! depends on another service's crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn services() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(workspace().join("services"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    out.sort();
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its comments (line comments are enough here).
fn code(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_service_has_the_same_rooms_and_a_domain_free_of_transport_and_storage() {
    let services = services();
    assert!(services.len() >= 6, "{services:?}");
    let mut wrong = Vec::new();
    for s in &services {
        let name = s.file_name().unwrap().to_string_lossy().into_owned();
        for room in ["src/domain", "src/store", "src/routes"] {
            if !s.join(room).is_dir() {
                wrong.push(format!("{name} has no {room}/"));
            }
        }
        for file in [
            "src/lib.rs",
            "src/startup.rs",
            "src/state.rs",
            "src/config.rs",
        ] {
            if !s.join(file).is_file() {
                wrong.push(format!("{name} has no {file}"));
            }
        }
        let main = std::fs::read_to_string(s.join("src/main.rs")).unwrap();
        if main.lines().count() > 10 || !main.contains("service_kit::cli::main::<") {
            wrong.push(format!("{name}'s main.rs is not the kit's few lines"));
        }
        let mut files = Vec::new();
        rust_files(&s.join("src/domain"), &mut files);
        let mut has_error_enum = false;
        for f in &files {
            let text = code(f);
            for forbidden in ["actix", "sea_orm", "fred::", "service_kit::redis"] {
                if text.contains(forbidden) {
                    wrong.push(format!("{} uses {forbidden}", f.display()));
                }
            }
            has_error_enum |= text.contains("Error {") && text.contains("pub enum");
        }
        if !has_error_enum {
            wrong.push(format!("{name}'s domain/ has no error enum"));
        }
        let routes = code(&s.join("src/routes/mod.rs"));
        if !routes.contains("for ApiError") {
            wrong.push(format!(
                "{name}'s routes/mod.rs maps no domain error to ApiError"
            ));
        }
        let manifest = std::fs::read_to_string(s.join("Cargo.toml")).unwrap();
        for other in &services {
            let other = other.file_name().unwrap().to_string_lossy().into_owned();
            if other != name && manifest.contains(&format!("services/{other}\"")) {
                wrong.push(format!("{name} depends on the {other} service's crate"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
