//! The OpenAPI document covers every route, with its security and errors.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_errors_and_security() {
    let app = spawn_app().await;
    let doc = testkit::openapi::fetch(&app.api.client, &app.address).await;
    let routes = testkit::openapi::routes_of(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(routes.len(), 12, "found {routes:?}");
    testkit::openapi::assert_documented(&doc, "/api/payments", &routes);
    // Everything but the provider's webhook takes a user's token.
    let users: Vec<_> = routes
        .iter()
        .filter(|(_, path)| !path.starts_with("/webhooks"))
        .cloned()
        .collect();
    testkit::openapi::assert_secured(&doc, "/api/payments", &users);
    let webhook = &doc["paths"]["/api/payments/webhooks/{provider}"]["post"];
    assert!(webhook["security"].is_null(), "{webhook}");
    for status in ["200", "400", "401", "404", "409", "503"] {
        assert!(
            webhook["responses"][status].is_object(),
            "the webhook documents no {status}"
        );
    }
    for (path, method, status) in [
        ("/api/payments/fundings/{id}/checkout", "post", "409"),
        ("/api/payments/fundings/{id}/checkout", "post", "403"),
        ("/api/payments/invoices/{id}/repayment", "post", "409"),
        ("/api/payments/payout-account", "put", "422"),
        ("/api/payments/ledger/trial-balance", "get", "403"),
        ("/api/payments/ledger/accounts", "get", "422"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"][status].is_object(),
            "{method} {path} documents no {status}"
        );
    }
}
