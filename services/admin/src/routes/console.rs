//! The operators' web console at `/admin/` (docs/admin.md): three committed files,
//! compiled into the binary, served with a strict Content-Security-Policy. It is a client
//! of the public APIs through the gateway like any other (auth, kyc, invoice, admin,
//! notifications); nothing here reads another service's data. The pages are not part of
//! the API document (like the Swagger UI at `/api-docs/`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

/// What the console may load and where it may connect: its own files, `blob:` images
/// (KYC documents fetched with the bearer token), the APIs and the WebSocket of the same
/// origin; no inline script or style, no frames, no form posts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/admin/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../../console/index.html"),
    },
    Asset {
        path: "/admin/console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/console.js"),
    },
    Asset {
        path: "/admin/console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../console/console.css"),
    },
];

/// A strong validator of `body` (its SHA-256, shortened): revalidated on every load
/// (`no-cache`), so a new release is seen at once and an unchanged one costs a 304.
fn etag(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..12]))
}

/// `asset` with its headers; `tag` is its [`etag`], computed once when the routes are
/// built, not on every request.
fn serve(asset: &'static Asset, tag: &str, req: &HttpRequest) -> HttpResponse {
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut res = if unchanged {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type(asset.content_type)
            .body(asset.body)
    };
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, v);
    }
    res
}

/// `/admin` (to `/admin/`) and the console's files.
pub fn pages() -> impl actix_web::dev::HttpServiceFactory {
    let mut resources = vec![web::resource("/admin").route(web::get().to(|| async {
        HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, "/admin/"))
            .finish()
    }))];
    for asset in ASSETS {
        let tag = std::sync::Arc::<str>::from(etag(asset.body));
        resources.push(
            web::resource(asset.path).route(web::get().to(move |req: HttpRequest| {
                let tag = tag.clone();
                async move { serve(asset, &tag, &req) }
            })),
        );
    }
    resources
}
