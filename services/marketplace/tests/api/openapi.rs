//! The OpenAPI document covers every route; the probes and metrics answer.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_errors_and_security() {
    let app = spawn_app().await;
    let doc = testkit::openapi::fetch(&app.client, &app.address).await;
    let routes = testkit::openapi::routes_of(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(routes.len(), 10, "found {routes:?}");
    testkit::openapi::assert_documented(&doc, "/api/marketplace", &routes);
    testkit::openapi::assert_secured(&doc, "/api/marketplace", &routes);
    for (path, method, status) in [
        ("/api/marketplace/offers", "post", "201"),
        ("/api/marketplace/offers", "post", "403"),
        ("/api/marketplace/offers", "post", "409"),
        ("/api/marketplace/offers", "post", "422"),
        ("/api/marketplace/offers", "get", "422"),
        ("/api/marketplace/offers/{id}", "get", "404"),
        ("/api/marketplace/offers/{id}", "patch", "409"),
        ("/api/marketplace/offers/{id}/accept", "post", "202"),
        ("/api/marketplace/offers/{id}/accept", "post", "409"),
        ("/api/marketplace/offers/{id}/reject", "post", "409"),
        ("/api/marketplace/offers/{id}/withdraw", "post", "409"),
        ("/api/marketplace/invoices/{id}", "get", "404"),
        ("/api/marketplace/trending", "get", "422"),
        ("/api/marketplace/stats", "get", "200"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"][status].is_object(),
            "{method} {path} documents no {status}"
        );
    }
    // Every schema a route refers to is in the document.
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_owned()),
                        _ => refs(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
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
    for schema in [
        "OfferView",
        "OfferRequest",
        "ListingView",
        "Stats",
        "Problem",
    ] {
        assert!(all.iter().any(|r| r.ends_with(schema)), "{schema} unused");
    }
    // Request bodies are documented.
    for (path, method) in [
        ("/api/marketplace/offers", "post"),
        ("/api/marketplace/offers/{id}", "patch"),
        ("/api/marketplace/offers/{id}/reject", "post"),
    ] {
        assert!(
            doc["paths"][path][method]["requestBody"].is_object(),
            "{method} {path} documents no body"
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
    app.get("/api/marketplace/stats", &app.admin().token).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("marketplace_http_requests_total"),
        "{metrics}"
    );
}
