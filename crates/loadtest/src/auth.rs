//! Auth scenarios.
//!
//! Each simulated user registers once with a unique email and logs in (both on start),
//! then loops over the token-checked routes: `GET /api/auth/me` with the bearer token,
//! `POST /api/auth/refresh` rotating the refresh token, and now and then
//! `POST /api/auth/logout` followed by a fresh login. Login and register cost an Argon2
//! hash on purpose, so they are separate request names (`register`, `login`) from the
//! token-checked ones (`me`, `refresh`, `logout`).
//!
//! The other services' scenarios sign their users up with [`register`] and [`first_login`]
//! and take tokens from [`access_token`].

use std::sync::OnceLock;

use goose::goose::GooseResponse;
use goose::prelude::*;
use serde::Deserialize;
use serde_json::json;

/// Relative frequencies in the loop: for every `RELOGIN_WEIGHT` logout+login a user does
/// `ME_WEIGHT` /me and `REFRESH_WEIGHT` refreshes.
const ME_WEIGHT: usize = 50;
const REFRESH_WEIGHT: usize = 10;
const RELOGIN_WEIGHT: usize = 1;

pub const PASSWORD: &str = "load test pass 42";

/// Where auth answers when it is not the load test's host (another service's scenario
/// run `--target direct`): requests then go to this base URL instead.
static AUTH_BASE: OnceLock<String> = OnceLock::new();

/// Send the auth requests of every scenario to `base` (e.g. http://127.0.0.1:8081) rather
/// than to the load test's host. Call once, before the run.
pub fn set_base(base: &str) {
    let _ = AUTH_BASE.set(base.trim_end_matches('/').to_owned());
}

/// `path` on auth: relative (the load test's host) unless [`set_base`] named another.
fn url(path: &str) -> String {
    match AUTH_BASE.get() {
        Some(base) => format!("{base}{path}"),
        None => path.to_owned(),
    }
}

/// A fresh address for a simulated user.
pub fn new_email() -> String {
    format!("lt-{}@example.com", uuid::Uuid::now_v7().simple())
}

/// One simulated user's account and current tokens.
#[derive(Clone)]
struct Session {
    email: String,
    access_token: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!("Auth")
            .register_transaction(
                transaction!(register)
                    .set_name("register")
                    .set_on_start()
                    .set_sequence(1),
            )
            .register_transaction(
                transaction!(first_login)
                    .set_name("login")
                    .set_on_start()
                    .set_sequence(2),
            )
            .register_transaction(weighted(transaction!(me).set_name("me"), ME_WEIGHT))
            .register_transaction(weighted(
                transaction!(refresh).set_name("refresh"),
                REFRESH_WEIGHT,
            ))
            .register_transaction(weighted(
                transaction!(relogin).set_name("logout+login"),
                RELOGIN_WEIGHT,
            )),
    ]
}

pub fn weighted(t: Transaction, weight: usize) -> Transaction {
    // Only a zero weight is refused; the constants are not zero.
    let fallback = t.clone();
    t.set_weight(weight).unwrap_or(fallback)
}

fn session(user: &mut GooseUser) -> Result<&mut Session, Box<TransactionError>> {
    user.get_session_data_mut::<Session>()
        .ok_or_else(|| Box::new(TransactionError::from("no session: register failed")))
}

/// POST /api/auth/register with a unique email (seller or investor, alternately); starts
/// the user's session.
pub async fn register(user: &mut GooseUser) -> TransactionResult {
    let role = if user.weighted_users_index.is_multiple_of(2) {
        "seller"
    } else {
        "investor"
    };
    register_as(user, role).await
}

/// POST /api/auth/register of a new `role` user with a unique email; starts the user's
/// session.
pub async fn register_as(user: &mut GooseUser, role: &str) -> TransactionResult {
    let email = new_email();
    let body = json!({
        "email": email,
        "password": PASSWORD,
        "role": role,
        "full_name": "Load Test",
    });
    let builder = user
        .get_request_builder(&GooseMethod::Post, &url("/api/auth/register"))?
        .json(&body);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/api/auth/register")
        .name("register")
        .expect_status_code(201)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    user.set_session_data(Session {
        email,
        access_token: None,
        refresh_token: None,
    });
    if !response.request.success {
        return Err(Box::new("register failed".into()));
    }
    Ok(())
}

pub async fn first_login(user: &mut GooseUser) -> TransactionResult {
    login(user).await
}

/// POST /api/auth/login and keep the tokens.
async fn login(user: &mut GooseUser) -> TransactionResult {
    let email = session(user)?.email.clone();
    let builder = user
        .get_request_builder(&GooseMethod::Post, &url("/api/auth/login"))?
        .json(&json!({ "email": email, "password": PASSWORD }));
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/api/auth/login")
        .name("login")
        .expect_status_code(200)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    keep_tokens(user, response).await
}

/// Store the token pair of a 200 answer; forget the tokens otherwise, so that the next
/// transaction logs in again.
async fn keep_tokens(user: &mut GooseUser, mut response: GooseResponse) -> TransactionResult {
    let pair = match response.response {
        Ok(r) if response.request.success => r.json::<TokenPair>().await.ok(),
        _ => None,
    };
    let ok = pair.is_some();
    if !ok && response.request.success {
        user.set_failure("unreadable token pair", &mut response.request, None, None)?;
    }
    let s = session(user)?;
    s.access_token = pair.as_ref().map(|p| p.access_token.clone());
    s.refresh_token = pair.map(|p| p.refresh_token);
    if ok {
        Ok(())
    } else {
        Err(Box::new("no tokens".into()))
    }
}

/// The access token, logging in first when the last attempt lost it.
pub async fn access_token(user: &mut GooseUser) -> Result<String, Box<TransactionError>> {
    if session(user)?.access_token.is_none() {
        login(user).await?;
    }
    session(user)?
        .access_token
        .clone()
        .ok_or_else(|| Box::new("no access token".into()))
}

/// Forget the access token (a 401 said it no longer works): the next
/// [`access_token`] logs in again.
pub fn forget_access_token(user: &mut GooseUser) -> Result<(), Box<TransactionError>> {
    session(user)?.access_token = None;
    Ok(())
}

async fn me(user: &mut GooseUser) -> TransactionResult {
    let token = access_token(user).await?;
    let builder = user
        .get_request_builder(&GooseMethod::Get, &url("/api/auth/me"))?
        .bearer_auth(token);
    let request = GooseRequest::builder()
        .path("/api/auth/me")
        .name("me")
        .expect_status_code(200)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    if !response.request.success {
        session(user)?.access_token = None;
    }
    Ok(())
}

async fn refresh(user: &mut GooseUser) -> TransactionResult {
    let Some(token) = session(user)?.refresh_token.clone() else {
        return login(user).await;
    };
    let builder = user
        .get_request_builder(&GooseMethod::Post, &url("/api/auth/refresh"))?
        .json(&json!({ "refresh_token": token }));
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/api/auth/refresh")
        .name("refresh")
        .expect_status_code(200)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    keep_tokens(user, response).await
}

/// POST /api/auth/logout (the access token is blacklisted, the session's refresh tokens
/// revoked), then a fresh login.
async fn relogin(user: &mut GooseUser) -> TransactionResult {
    let token = access_token(user).await?;
    let builder = user
        .get_request_builder(&GooseMethod::Post, &url("/api/auth/logout"))?
        .bearer_auth(token);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/api/auth/logout")
        .name("logout")
        .expect_status_code(204)
        .set_request_builder(builder)
        .build();
    user.request(request).await?;
    let s = session(user)?;
    s.access_token = None;
    s.refresh_token = None;
    login(user).await
}
