use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_errors_and_security() {
    let app = spawn_app().await;
    let doc = testkit::openapi::fetch(&app.client, &app.address).await;
    let routes = testkit::openapi::routes_of(env!("CARGO_MANIFEST_DIR"));
    assert!(routes.len() >= 8, "found {routes:?}");
    testkit::openapi::assert_documented(&doc, "/api/auth", &routes);
    for (path, method) in [
        ("/api/auth/me", "get"),
        ("/api/auth/logout", "post"),
        ("/api/auth/users/{id}/suspend", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op["security"].is_array(), "{method} {path} has no security");
        assert!(
            op["responses"]["401"].is_object(),
            "{method} {path} documents no 401"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // The password policy as the service enforces it.
    let password = &doc["components"]["schemas"]["RegisterRequest"]["properties"]["password"];
    assert_eq!(password["pattern"], auth::domain::PASSWORD_PATTERN);
    let name = &doc["components"]["schemas"]["RegisterRequest"]["properties"]["full_name"];
    assert_eq!(name["pattern"], auth::domain::NAME_PATTERN);
    assert_eq!(
        (
            password["minLength"].as_u64(),
            password["maxLength"].as_u64()
        ),
        (Some(10), Some(128))
    );
    // The probes are the orchestrator's, not routed by the gateway: not in the document,
    // still answered (and a POST to one is a 405 naming GET).
    assert!(doc["paths"]["/healthz"].is_null() && doc["paths"]["/readyz"].is_null());
    let res = app.client.post(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
    let ui = app.client.get(app.url("/api-docs/")).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn health_probes_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
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
    assert_eq!(ready["redis"], "ok");
    assert_eq!(ready["database"], "ok");
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(!res.headers()["x-request-id"].is_empty());
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("auth_http_requests_total"), "{metrics}");
}
