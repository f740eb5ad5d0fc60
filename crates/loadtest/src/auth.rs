//! Auth scenarios.
//!
//! Each simulated user registers once with a unique email and logs in (both on start),
//! then loops over the token-checked routes: `GET /api/auth/me` with the bearer token,
//! `POST /api/auth/refresh` rotating the refresh token, and now and then
//! `POST /api/auth/logout` followed by a fresh login. Login and register cost an Argon2
//! hash on purpose, so they are separate request names (`register`, `login`) from the
//! token-checked ones (`me`, `refresh`, `logout`).

use goose::goose::GooseResponse;
use goose::prelude::*;
use serde::Deserialize;
use serde_json::json;

/// Relative frequencies in the loop: for every `RELOGIN_WEIGHT` logout+login a user does
/// `ME_WEIGHT` /me and `REFRESH_WEIGHT` refreshes.
const ME_WEIGHT: usize = 50;
const REFRESH_WEIGHT: usize = 10;
const RELOGIN_WEIGHT: usize = 1;

const PASSWORD: &str = "load test pass 42";

/// One simulated user's account and current tokens.
#[derive(Clone)]
struct Session {
    email: String,
    access_token: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
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

fn weighted(t: Transaction, weight: usize) -> Transaction {
    // Only a zero weight is refused; the constants are not zero.
    let fallback = t.clone();
    t.set_weight(weight).unwrap_or(fallback)
}

fn session(user: &mut GooseUser) -> Result<&mut Session, Box<TransactionError>> {
    user.get_session_data_mut::<Session>()
        .ok_or_else(|| Box::new(TransactionError::from("no session: register failed")))
}

async fn register(user: &mut GooseUser) -> TransactionResult {
    let email = format!("lt-{}@example.com", uuid::Uuid::now_v7().simple());
    let role = if user.weighted_users_index.is_multiple_of(2) {
        "seller"
    } else {
        "investor"
    };
    let body = json!({
        "email": email,
        "password": PASSWORD,
        "role": role,
        "full_name": "Load Test",
    });
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/api/auth/register")?
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

async fn first_login(user: &mut GooseUser) -> TransactionResult {
    login(user).await
}

/// POST /api/auth/login and keep the tokens.
async fn login(user: &mut GooseUser) -> TransactionResult {
    let email = session(user)?.email.clone();
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/api/auth/login")?
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
async fn access_token(user: &mut GooseUser) -> Result<String, Box<TransactionError>> {
    if session(user)?.access_token.is_none() {
        login(user).await?;
    }
    session(user)?
        .access_token
        .clone()
        .ok_or_else(|| Box::new("no access token".into()))
}

async fn me(user: &mut GooseUser) -> TransactionResult {
    let token = access_token(user).await?;
    let builder = user
        .get_request_builder(&GooseMethod::Get, "/api/auth/me")?
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
        .get_request_builder(&GooseMethod::Post, "/api/auth/refresh")?
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
        .get_request_builder(&GooseMethod::Post, "/api/auth/logout")?
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
