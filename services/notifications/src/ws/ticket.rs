//! One-time WebSocket tickets: `notifications:ws_ticket:{ticket}` holds the claims of the
//! token that asked for it and the time it was issued (by the injected clock). Redeeming
//! is one `GETDEL`, so a ticket works once even when two connections race with it; it is
//! refused after `WS_TICKET_TTL_SECS` by the clock (Redis' own expiry only cleans up).

use chrono::{DateTime, Utc};
use common::auth::Claims;
use fred::prelude::KeysInterface;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::domain::TicketError;
use crate::state::AppState;

#[derive(Serialize, Deserialize)]
struct Stored {
    claims: Claims,
    issued_at: DateTime<Utc>,
}

/// A new ticket for `claims` (256 random bits, hex).
pub async fn issue(state: &AppState, claims: &Claims) -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let ticket = hex::encode(bytes);
    let value = serde_json::to_string(&Stored {
        claims: claims.clone(),
        issued_at: state.clock.now(),
    })?;
    let ttl = i64::try_from(state.config.ws.ticket_ttl_secs).unwrap_or(30);
    let _: () = state
        .redis
        .next()
        .set(
            state.keys.ws_ticket(&ticket),
            value,
            Some(fred::types::Expiration::EX(ttl)),
            Some(fred::types::SetOptions::NX),
            false,
        )
        .await?;
    Ok(ticket)
}

/// Takes `ticket` (once) and gives back the claims it was issued for.
pub async fn redeem(state: &AppState, ticket: &str) -> anyhow::Result<Result<Claims, TicketError>> {
    if ticket.len() != 64 || !ticket.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Err(TicketError::Invalid));
    }
    let stored: Option<String> = state
        .redis
        .next()
        .getdel(state.keys.ws_ticket(ticket))
        .await?;
    let Some(stored) = stored.and_then(|s| serde_json::from_str::<Stored>(&s).ok()) else {
        return Ok(Err(TicketError::Invalid));
    };
    let age = state.clock.now() - stored.issued_at;
    let ttl = i64::try_from(state.config.ws.ticket_ttl_secs).unwrap_or(30);
    if age > chrono::Duration::seconds(ttl) {
        return Ok(Err(TicketError::Expired));
    }
    Ok(Ok(stored.claims))
}
