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
