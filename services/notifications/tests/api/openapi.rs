//! The OpenAPI document covers every route.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::spawn_app;

const SCOPE: &str = "/api/notifications";

/// The WebSocket: authenticated by its one-time ticket, not by a bearer token.
fn is_ws((method, path): &(String, String)) -> bool {
    method == "get" && path == "/ws"
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_errors_and_security() {
    let app = spawn_app().await;
    let doc = testkit::openapi::fetch(&app.client, &app.address).await;
    let routes = testkit::openapi::routes_of(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(routes.len(), 9, "found {routes:?}");
    assert_eq!(routes.iter().filter(|r| is_ws(r)).count(), 1, "{routes:?}");
    testkit::openapi::assert_documented(&doc, SCOPE, &routes);
    let bearer: Vec<(String, String)> = routes.iter().filter(|r| !is_ws(r)).cloned().collect();
    testkit::openapi::assert_secured(&doc, SCOPE, &bearer);
    for (method, path) in &bearer {
        let op = &doc["paths"][format!("{SCOPE}{path}")][method];
        let security = op["security"].as_array().unwrap();
        assert!(
            security.iter().any(|s| s.get("bearer").is_some()),
            "{method} {path} does not name bearer security: {security:?}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "{}",
        doc["components"]
    );
    // The WebSocket is documented with its ticket, and needs no bearer token.
    let ws = &doc["paths"][format!("{SCOPE}/ws")]["get"];
    assert!(
        ws["security"]
            .as_array()
            .is_none_or(|s| s.iter().all(|s| s.get("bearer").is_none())),
        "GET /ws names bearer security: {ws}"
    );
    assert!(
        ws["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "ticket" && p["in"] == "query"),
        "GET /ws documents no ticket: {ws}"
    );
    for (path, method, status) in [
        ("", "get", "200"),
        ("", "get", "422"),
        ("/unread-count", "get", "200"),
        ("/read-all", "post", "200"),
        ("/{id}/read", "post", "200"),
        ("/{id}/read", "post", "404"),
        ("/devices", "post", "201"),
        ("/devices", "post", "200"),
        ("/devices", "post", "400"),
        ("/devices", "post", "409"),
        ("/devices", "post", "422"),
        ("/devices", "get", "200"),
        ("/devices/{id}", "delete", "204"),
        ("/devices/{id}", "delete", "404"),
        ("/ws-ticket", "post", "201"),
        ("/ws", "get", "101"),
        ("/ws", "get", "400"),
        ("/ws", "get", "401"),
        ("/ws", "get", "503"),
    ] {
        assert!(
            doc["paths"][format!("{SCOPE}{path}")][method]["responses"][status].is_object(),
            "{method} {SCOPE}{path} documents no {status}"
        );
    }
    assert!(
        doc["paths"][format!("{SCOPE}/devices")]["post"]["requestBody"].is_object(),
        "POST /devices documents no body"
    );
    // Every schema referred to is in the document; the frames are, though no route names
    // them (they travel on the WebSocket).
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_owned()),
                        _ => refs(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is not in the document"
        );
    }
    for schema in ["DeviceRequest", "DeviceView", "Problem"] {
        assert!(all.iter().any(|r| r.ends_with(schema)), "{schema} unused");
    }
    for schema in ["ClientFrame", "ServerFrame"] {
        let s = &doc["components"]["schemas"][schema];
        assert!(
            s.is_object() && s != &json!({}),
            "{schema} is not in the document: {}",
            doc["components"]["schemas"]
        );
    }
}

#[tokio::test]
async fn bearer_routes_answer_401_problems_without_a_valid_token() {
    let app = spawn_app().await;
    let id = Uuid::now_v7();
    let routes = testkit::openapi::routes_of(env!("CARGO_MANIFEST_DIR"));
    let bearer: Vec<(String, String)> = routes.into_iter().filter(|r| !is_ws(r)).collect();
    assert_eq!(bearer.len(), 8, "{bearer:?}");
    let user = app.investor();
    // Signed by the right key but tampered with: the signature no longer matches.
    let (head, rest) = user.token.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    let flipped = if payload.ends_with('A') { 'B' } else { 'A' };
    let tampered = format!("{head}.{}{flipped}.{sig}", &payload[..payload.len() - 1]);
    for (method, path) in &bearer {
        let url = app.url(&format!("{SCOPE}{}", path.replace("{id}", &id.to_string())));
        for token in [None, Some("not-a-jwt"), Some(tampered.as_str())] {
            let mut req = app
                .client
                .request(method.to_uppercase().parse().unwrap(), &url)
                .json(&json!({"platform": "android", "token": "t".repeat(40)}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            assert!(
                res.headers().contains_key("www-authenticate"),
                "{method} {path} with {token:?}: no WWW-Authenticate"
            );
            testkit::assert_problem(res, 401).await;
        }
    }
    // Nothing was registered by those calls.
    let res = app.get(&format!("{SCOPE}/devices"), &user.token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
    // The WebSocket route asked without an upgrade is a 400 problem (an upgrade without a
    // ticket is a 401: tests/api/ws.rs).
    let res = app
        .client
        .get(app.url(&format!("{SCOPE}/ws")))
        .send()
        .await
        .unwrap();
    testkit::assert_problem(res, 400).await;
}

#[tokio::test]
async fn health_probes_and_metrics_answer() {
    let app = spawn_app().await;
    for probe in ["/healthz", "/readyz"] {
        let res = app.client.get(app.url(probe)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{probe}");
    }
    let res = app
        .get(&format!("{SCOPE}/unread-count"), &app.investor().token)
        .await;
    assert_eq!(res.status(), 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("notifications_http_requests_total"),
        "{metrics}"
    );
}
