use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_errors_and_security() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api-docs/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    let routes = testkit::openapi::route_macros(std::path::Path::new(src));
    assert!(routes.len() >= 10, "found {routes:?}");
    testkit::openapi::assert_documented(&doc, "/api/kyc", &routes);
    for (method, path) in &routes {
        let op = &doc["paths"][format!("/api/kyc{path}")][method];
        assert!(op["security"].is_array(), "{method} {path} has no security");
        assert!(
            op["responses"]["401"].is_object(),
            "{method} {path} documents no 401"
        );
    }
    let upload = &doc["paths"]["/api/kyc/documents"]["post"];
    assert!(upload["requestBody"]["content"]["multipart/form-data"].is_object());
    for status in ["202", "413", "415", "422", "429"] {
        assert!(
            upload["responses"][status].is_object(),
            "upload documents no {status}"
        );
    }
    for (path, status) in [
        ("/api/kyc/submissions/{id}/approve", "409"),
        ("/api/kyc/submissions/{id}/approve", "403"),
        ("/api/kyc/submissions/{id}/reject", "422"),
    ] {
        assert!(
            doc["paths"][path]["post"]["responses"][status].is_object(),
            "{path} {status}"
        );
    }
}

#[tokio::test]
async fn health_probes_and_metrics_answer() {
    let app = spawn_app().await;
    let ready: serde_json::Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ok");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("kyc_http_requests_total"), "{metrics}");
}
