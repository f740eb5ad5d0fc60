//! The console's pages: served with the strict policy (the same the gateway sends),
//! revalidated by ETag, absent from the API document.

use admin::routes_console::CONTENT_SECURITY_POLICY;
use testkit::DbKind;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_pages_are_served_with_their_policy_and_validators() {
    let app = spawn_app(DbKind::Sqlite).await;
    for (path, kind) in [
        ("/admin/", "text/html"),
        ("/admin/console.js", "text/javascript"),
        ("/admin/console.css", "text/css"),
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        assert_eq!(h["content-security-policy"], CONTENT_SECURITY_POLICY);
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-cache");
        let etag = h["etag"].to_str().unwrap().to_owned();
        let body = res.text().await.unwrap();
        assert!(!body.is_empty());
        // Unchanged: 304, no body.
        let again = app
            .client
            .get(format!("{}{path}", app.address))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.text().await.unwrap().is_empty());
    }
    // No inline script or style anywhere in the page (the policy would refuse it).
    let html = app
        .client
        .get(format!("{}/admin/", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "{html}"
    );
    for handler in ["onclick=", "onload=", "onsubmit=", "javascript:"] {
        assert!(!html.contains(handler), "{handler} in the page");
    }
    // /admin redirects; other names are 404 problems; the pages take GET only.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/admin", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/admin/");
    let res = client
        .get(format!("{}/admin/secrets.js", app.address))
        .send()
        .await
        .unwrap();
    testkit::assert_problem(res, 404).await;
    let res = client
        .post(format!("{}/admin/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    // The pages are not API routes.
    let doc: serde_json::Value = client
        .get(format!("{}/api-docs/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(
        paths.iter().all(|p| p.starts_with("/api/admin/")),
        "{paths:?}"
    );
}

#[test]
fn the_gateway_sends_the_same_policy() {
    let snippet = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/gateway/snippets/headers-pages.conf"),
    )
    .unwrap();
    assert!(
        snippet.contains(&format!(
            "add_header Content-Security-Policy \"{CONTENT_SECURITY_POLICY}\" always;"
        )),
        "deploy/gateway/snippets/headers-pages.conf must send {CONTENT_SECURITY_POLICY:?}"
    );
}
