//! Every forged, stale or revoked token is a 401 problem.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::auth::{Claims, JwtSigner, KycStatus, Role, SigningKey};
use fred::prelude::KeysInterface;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};

use common::Clock;

use crate::helpers::{TestApp, assert_problem, spawn_app};

/// The service's own signer, read from its key folder (as an attacker never could).
fn real_signer(app: &TestApp) -> (JwtSigner, String) {
    let keys = auth::store::keystore::load_keys(&app.config.keys_dir).unwrap();
    let kid = keys.last().unwrap().kid.clone();
    (
        JwtSigner::new(keys, "vestio-auth", "vestio", 900).unwrap(),
        kid,
    )
}

async fn valid_claims(app: &TestApp) -> (Claims, JwtSigner, String) {
    let (user, _, _) = app.user("seller").await;
    let id = user["id"].as_str().unwrap().parse().unwrap();
    let (signer, kid) = real_signer(app);
    let claims = signer.claims(
        id,
        Role::Seller,
        KycStatus::None,
        uuid::Uuid::now_v7(),
        app.clock.now(),
    );
    (claims, signer, kid)
}

async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let res = app.get_auth("/api/auth/me", token).await;
    assert_eq!(res.status(), 401, "{why}");
    assert_problem(res, 401).await;
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn a_freshly_signed_token_is_accepted_as_a_control() {
    let app = spawn_app().await;
    let (claims, signer, _) = valid_claims(&app).await;
    let res = app
        .get_auth("/api/auth/me", &signer.sign(&claims).unwrap())
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let app = spawn_app().await;
    let (claims, signer, _) = valid_claims(&app).await;
    let mut expired = claims.clone();
    expired.iat -= 2000;
    expired.nbf -= 2000;
    expired.exp = expired.iat + 900;
    assert_refused(&app, &signer.sign(&expired).unwrap(), "expired").await;

    let mut early = claims.clone();
    early.nbf += 600;
    early.iat += 600;
    early.exp += 600;
    assert_refused(&app, &signer.sign(&early).unwrap(), "not yet valid").await;

    // A valid token expires on the service's clock.
    let token = signer.sign(&claims).unwrap();
    app.clock.advance(chrono::Duration::seconds(900 + 31));
    assert_refused(&app, &token, "expired by the clock").await;
}

#[tokio::test]
async fn tokens_with_the_wrong_key_algorithm_audience_or_issuer_are_refused() {
    let app = spawn_app().await;
    let (claims, _, kid) = valid_claims(&app).await;

    // Another key under the real kid: bad signature. Another key under a new kid: unknown.
    let (other, _) = SigningKey::generate(&kid).unwrap();
    let forged = JwtSigner::new(vec![other], "vestio-auth", "vestio", 900).unwrap();
    assert_refused(&app, &forged.sign(&claims).unwrap(), "wrong key, same kid").await;
    let (stranger, _) = SigningKey::generate("stranger").unwrap();
    let stranger = JwtSigner::new(vec![stranger], "vestio-auth", "vestio", 900).unwrap();
    assert_refused(&app, &stranger.sign(&claims).unwrap(), "unknown kid").await;

    // alg: none.
    let none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&serde_json::to_value(&claims).unwrap())
    );
    assert_refused(&app, &none, "alg none").await;

    // HS256 keyed with the public key (the classic confusion attack).
    let pem = std::fs::read_to_string(app.config.keys_dir.join(format!("{kid}.pem"))).unwrap();
    let public_pem = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
        .unwrap()
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.clone());
    let hs = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    assert_refused(&app, &hs, "HS256 with the public key").await;

    let (signer, _) = real_signer(&app);
    let mut aud = claims.clone();
    aud.aud = "someone-else".into();
    assert_refused(&app, &signer.sign(&aud).unwrap(), "wrong audience").await;
    let mut iss = claims.clone();
    iss.iss = "evil-auth".into();
    assert_refused(&app, &signer.sign(&iss).unwrap(), "wrong issuer").await;
    let mut long = claims.clone();
    long.exp = long.iat + 86_400;
    assert_refused(
        &app,
        &signer.sign(&long).unwrap(),
        "lifetime beyond 15 minutes",
    )
    .await;
}

#[tokio::test]
async fn a_tampered_payload_and_garbage_are_refused() {
    let app = spawn_app().await;
    let (claims, signer, _) = valid_claims(&app).await;
    let token = signer.sign(&claims).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut elevated = serde_json::to_value(&claims).unwrap();
    elevated["role"] = "admin".into();
    let tampered = format!("{}.{}.{}", parts[0], b64(&elevated), parts[2]);
    assert_refused(&app, &tampered, "tampered payload").await;
    assert_refused(&app, "not.a.token", "garbage").await;
    assert_refused(&app, "", "empty").await;
    let res = app
        .client
        .get(app.url("/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
    let res = app
        .client
        .get(app.url("/api/auth/me"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
}

#[tokio::test]
async fn a_blacklisted_jti_is_refused_everywhere() {
    let app = spawn_app().await;
    let (claims, signer, _) = valid_claims(&app).await;
    let token = signer.sign(&claims).unwrap();
    assert_eq!(app.get_auth("/api/auth/me", &token).await.status(), 200);
    let _: () = app
        .redis
        .set(
            app.keys.blacklisted(&claims.jti.to_string()),
            1,
            None,
            None,
            false,
        )
        .await
        .unwrap();
    assert_refused(&app, &token, "blacklisted").await;
}

#[tokio::test]
async fn when_redis_cannot_answer_tokens_are_refused_not_waved_through() {
    let mut redis = testkit::RedisServer::start();
    let url = redis.url();
    let app =
        crate::helpers::spawn_app_with(testkit::DbKind::Postgres, |c| c.base.redis_url = url).await;
    let (_, access, _) = app.user("investor").await;
    assert_eq!(app.get_auth("/api/auth/me", &access).await.status(), 200);
    redis.stop();
    let res = app.get_auth("/api/auth/me", &access).await;
    assert_problem(res, 503).await;
}
