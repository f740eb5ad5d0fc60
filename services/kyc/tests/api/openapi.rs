use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_errors_and_security() {
    let app = spawn_app().await;
    let doc = testkit::openapi::fetch(&app.client, &app.address).await;
    let routes = testkit::openapi::routes_of(env!("CARGO_MANIFEST_DIR"));
    assert!(routes.len() >= 10, "found {routes:?}");
    testkit::openapi::assert_documented(&doc, "/api/kyc", &routes);
    testkit::openapi::assert_secured(&doc, "/api/kyc", &routes);
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
    let metrics = app.metrics().await;
    assert!(metrics.contains("kyc_http_requests_total"), "{metrics}");
}
