//! The WebSocket ticket and connection.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use common::auth::TokenError;
use serde::{Deserialize, Serialize};
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, Handover, TokenErrors};
use utoipa::{IntoParams, ToSchema};

use crate::domain::NotificationError;
use crate::state::AppState;
use crate::ws::socket::Socket;
use crate::ws::{session, ticket as tickets};

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    /// Pass as `?ticket=` to `GET /api/notifications/ws`; works once.
    pub ticket: String,
    /// Seconds it stays valid.
    #[schema(example = 30)]
    pub expires_in: u64,
}

/// A one-time ticket to open the WebSocket (browsers cannot send the bearer token on it).
#[utoipa::path(
    tag = "live",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The ticket", body = Ticket),
        TokenErrors,
    )
)]
#[post("/ws-ticket")]
pub async fn issue_ticket(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let ticket = tickets::issue(&state, &user.claims).await.map_err(|e| {
        tracing::error!(error = %e, "Ticket not stored.");
        ApiError::Unavailable("cannot issue a ticket right now; retry".into())
    })?;
    Ok(HttpResponse::Created().json(Ticket {
        ticket,
        expires_in: state.config.ws.ticket_ttl_secs,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectParams {
    /// From `POST /api/notifications/ws-ticket` (64 hex digits).
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub ticket: Option<String>,
}

/// The live connection (WebSocket upgrade). Your notifications arrive as
/// `{"type":"notification",...}` frames; send `subscribe`/`unsubscribe`/`resume` frames
/// (schemas ClientFrame and ServerFrame). Closes: 4001 token revoked, 4002 token expired,
/// 4008 too slow (send buffer full), 4000 heartbeat timeout, 1001 server stopping.
#[utoipa::path(
    tag = "live",
    params(
        ConnectParams,
        ("Upgrade" = String, Header, pattern = "[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]", description = "`websocket`"),
        ("Sec-WebSocket-Version" = String, Header, pattern = "^13$", description = "`13`"),
        ("Sec-WebSocket-Key" = String, Header, pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$", description = "16 random bytes in base64 (RFC 6455)"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request"),
        (status = 401, description = "Missing, unknown, used or expired ticket, or the token it came from is revoked"),
        (status = 422, description = "The ticket given twice"),
        (status = 503, description = "Cannot check the ticket now; retry"),
    )
)]
#[get("/ws")]
pub async fn connect(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: web::Query<ConnectParams>,
) -> Result<HttpResponse, ApiError> {
    // Not an upgrade: refused before the ticket is spent.
    actix_http::ws::verify_handshake(req.head())
        .map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let Some(raw) = params.ticket.as_deref().filter(|t| !t.is_empty()) else {
        return Err(NotificationError::TicketRequired.into());
    };
    let claims = match tickets::redeem(&state, raw).await {
        Ok(Ok(claims)) => claims,
        Ok(Err(e)) => return Err(NotificationError::Ticket(e).into()),
        Err(error) => {
            tracing::error!(%error, "Ticket check failed.");
            return Err(ApiError::Unavailable(
                "cannot check the ticket now; retry".into(),
            ));
        }
    };
    // The token may have been revoked or expired since the ticket was taken.
    if claims.exp <= state.clock.now().timestamp() {
        return Err(TokenError::Expired.into());
    }
    state.verifier.check_revocation(&claims).await?;
    let notifications = state.keys.user_notifications_channel(claims.sub);
    let registration = state
        .hub
        .register(claims.clone(), &notifications)
        .await
        .map_err(|error| {
            tracing::error!(%error, "Cannot listen for the user's notifications.");
            ApiError::Unavailable("live delivery is unavailable; retry".into())
        })?;
    let mut response = HttpResponse::from(actix_http::ws::handshake_response(req.head()).finish())
        .map_into_boxed_body();
    // Once the 101 is written, the connection is the session's (the kit's handover).
    let state = state.get_ref().clone();
    Handover::new(move |io, read| {
        let socket = Socket::new(io, read, session::MAX_CLIENT_FRAME);
        session::run(state, claims, socket, registration, notifications)
    })
    .attach(&mut response);
    Ok(response)
}
