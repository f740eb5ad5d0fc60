//! Checks that a service's OpenAPI document covers every route its code registers.

use std::path::Path;

/// Every `#[get("..")]`-style route macro under `dir`: (method, path).
pub fn route_macros(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read routes dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            for line in text.lines().map(str::trim) {
                for method in ["get", "post", "put", "patch", "delete"] {
                    let prefix = format!("#[{method}(\"");
                    if let Some(rest) = line.strip_prefix(&prefix)
                        && let Some(end) = rest.find('"')
                    {
                        out.push((method.to_owned(), rest[..end].to_owned()));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// Asserts that each route (under `scope`) is an operation of `doc` with at least one
/// response, and that every operation documents its error answers.
pub fn assert_documented(doc: &serde_json::Value, scope: &str, routes: &[(String, String)]) {
    for (method, path) in routes {
        let full = format!("{scope}{path}");
        let op = &doc["paths"][&full][method];
        assert!(
            op.is_object(),
            "{} {full} is not in the OpenAPI document",
            method.to_uppercase()
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|k| k.starts_with('4')),
            "{} {full} documents no error response",
            method.to_uppercase()
        );
    }
}

/// The service's OpenAPI document at `{base}/api-docs/openapi.json`, asserting a 200 and
/// OpenAPI 3.1.
pub async fn fetch(client: &reqwest::Client, base: &str) -> serde_json::Value {
    let res = client
        .get(format!("{base}/api-docs/openapi.json"))
        .send()
        .await
        .expect("GET /api-docs/openapi.json");
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.expect("an OpenAPI document");
    assert!(
        doc["openapi"].as_str().expect("openapi").starts_with("3.1"),
        "OpenAPI {}",
        doc["openapi"]
    );
    doc
}

/// The routes of a service crate (`env!("CARGO_MANIFEST_DIR")`): its `src/routes` macros.
pub fn routes_of(manifest_dir: &str) -> Vec<(String, String)> {
    route_macros(&Path::new(manifest_dir).join("src/routes"))
}

/// Asserts that each route (under `scope`) names its security and documents a 401.
pub fn assert_secured(doc: &serde_json::Value, scope: &str, routes: &[(String, String)]) {
    for (method, path) in routes {
        let op = &doc["paths"][format!("{scope}{path}")][method];
        assert!(op["security"].is_array(), "{method} {path} has no security");
        assert!(
            op["responses"]["401"].is_object(),
            "{method} {path} documents no 401"
        );
    }
}
