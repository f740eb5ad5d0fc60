//! The OpenAPI document covers every route, with its security and errors.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_errors_and_security() {
    let app = spawn_app(testkit::DbKind::Postgres).await;
    let doc = testkit::openapi::fetch(&app.api.client, &app.address).await;
    let routes = testkit::openapi::routes_of(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(routes.len(), 7, "found {routes:?}");
    testkit::openapi::assert_documented(&doc, "/api/admin", &routes);
    testkit::openapi::assert_secured(&doc, "/api/admin", &routes);
    for (path, status) in [
        ("/api/admin/audit", "401"),
        ("/api/admin/audit", "403"),
        ("/api/admin/audit", "422"),
        ("/api/admin/audit/verify", "403"),
    ] {
        assert!(
            doc["paths"][path]["get"]["responses"][status].is_object(),
            "GET {path} documents no {status}"
        );
    }
}
