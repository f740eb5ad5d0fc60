//! The OpenAPI document covers every route; the probes and metrics answer.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_errors_and_security() {
    let app = spawn_app().await;
    let doc = testkit::openapi::fetch(&app.client, &app.address).await;
    let routes = testkit::openapi::routes_of(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(routes.len(), 10, "found {routes:?}");
    testkit::openapi::assert_documented(&doc, "/api/invoices", &routes);
    testkit::openapi::assert_secured(&doc, "/api/invoices", &routes);
    // The search documents each of its parameters and its refusal.
    let search = &doc["paths"]["/api/invoices"]["get"];
    let params: Vec<&str> = search["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "status",
        "min_amount",
        "max_amount",
        "currency",
        "due_after",
        "due_before",
        "debtor",
        "q",
        "sort",
        "page",
        "per_page",
    ] {
        assert!(
            params.contains(&name),
            "search documents no {name}: {params:?}"
        );
    }
    assert!(search["responses"]["422"].is_object());
    for (path, method, status) in [
        ("/api/invoices", "post", "201"),
        ("/api/invoices", "post", "409"),
        ("/api/invoices/{id}", "patch", "409"),
        ("/api/invoices/{id}/submit", "post", "409"),
        ("/api/invoices/{id}/submit", "post", "422"),
        ("/api/invoices/{id}/verify", "post", "403"),
        ("/api/invoices/{id}/verify", "post", "409"),
        ("/api/invoices/{id}/reject", "post", "422"),
        ("/api/invoices/{id}/cancel", "post", "409"),
        ("/api/invoices/{id}", "get", "404"),
        ("/api/invoices/{id}/history", "get", "404"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"][status].is_object(),
            "{method} {path} documents no {status}"
        );
    }
}

#[tokio::test]
async fn health_probes_and_metrics_answer() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ready: serde_json::Value = res.json().await.unwrap();
    assert_eq!(ready["status"], "ok");
    // One request through the API, so the counter has a sample.
    app.search("", &app.seller().token).await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("invoice_http_requests_total"), "{metrics}");
}
