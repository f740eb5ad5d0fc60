//! Connections a route takes over once it answers `101 Switching Protocols` (the
//! notifications WebSocket).
//!
//! actix-web keeps an upgraded connection inside its HTTP/1 dispatcher for the
//! connection's whole life, with the dispatcher's 8 KiB read and 8 KiB write buffers
//! (fixed in actix-http) and its timers and state: a service holding thousands of mostly
//! idle connections pays that for each. A service served with [`Upgrades::HandedOver`]
//! instead gets the socket itself: every request that asks for an upgrade still goes
//! through the whole app (its routes, extractors, middleware, problems and metrics); when
//! the route answers 101 with a [`Handover`] in the response's extensions, the kit writes
//! the answer, frees the HTTP machinery and runs the handover with the socket and the
//! bytes the client already sent after its request. Any other answer to an upgrade
//! request is written as usual and the connection closed (what it asked for is over).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_codec::Framed;
use actix_http::body::{BodySize, MessageBody, to_bytes};
use actix_http::{ConnectionType, Request, Response, StatusCode, h1};
use actix_service::Service;
use actix_web::HttpResponse;
use actix_web::dev::ServiceResponse;
use bytes::BytesMut;
use futures::SinkExt;
use tokio::net::TcpStream;
use tokio_util::task::TaskTracker;

/// What an upgraded connection runs: the socket and what the client sent after its
/// request (often empty).
type Takeover = Box<dyn FnOnce(TcpStream, BytesMut) -> Pin<Box<dyn Future<Output = ()>>>>;

/// How a server treats requests that ask for a protocol upgrade (`Kit::serve_upgrades`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrades {
    /// As actix-web does: an upgraded connection stays in its HTTP dispatcher.
    InDispatcher,
    /// Through the app, then handed over (see the module).
    HandedOver,
}

/// Put in a 101 response's extensions ([`Handover::attach`]): what runs on the
/// connection once the answer is written. It runs in every case, also when the client
/// went away before the answer could be written (it then finds the socket broken at once),
/// so whatever it holds is released the way it always is.
pub struct Handover(Takeover);

impl Handover {
    pub fn new<F, Fut>(run: F) -> Self
    where
        F: FnOnce(TcpStream, BytesMut) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        Self(Box::new(move |io, read| Box::pin(run(io, read))))
    }

    /// Attaches the handover to `response` (a 101).
    pub fn attach(self, response: &mut HttpResponse) {
        response.extensions_mut().insert(self);
    }
}

/// Answers one upgrade request on `framed` through `app`; hands the connection over if
/// the answer carries a [`Handover`].
pub(super) async fn upgrade<S, B>(
    handovers: TaskTracker,
    app: Rc<S>,
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), actix_web::Error>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let response: Response<actix_http::body::BoxBody> = match app.call(req).await {
        Ok(response) => response.map_into_boxed_body().into(),
        Err(error) => error.error_response().into(),
    };
    let (mut head, body) = response.into_parts();
    let handover = if head.status() == StatusCode::SWITCHING_PROTOCOLS {
        head.extensions_mut().remove::<Handover>()
    } else {
        None
    };
    let Some(Handover(run)) = handover else {
        // Not taken over: the answer, then the connection is done.
        let body = to_bytes(body).await.unwrap_or_default();
        head.head_mut().set_connection_type(ConnectionType::Close);
        framed
            .send(h1::Message::Item((
                head,
                BodySize::Sized(body.len() as u64),
            )))
            .await?;
        if !body.is_empty() {
            framed.send(h1::Message::Chunk(Some(body))).await?;
        }
        framed.send(h1::Message::Chunk(None)).await?;
        framed.close().await?;
        return Ok(());
    };
    let answered = framed.send(h1::Message::Item((head, BodySize::None))).await;
    let parts = framed.into_parts();
    // The HTTP buffers go here; what the client sent after its request goes along.
    let read = if parts.read_buf.is_empty() {
        BytesMut::new()
    } else {
        parts.read_buf
    };
    // Run even if the answer could not be written: the handover finds the connection
    // broken at once and releases what it holds its usual way. Tracked: the server's
    // graceful stop no longer counts the connection, `Running` waits for it instead.
    actix_web::rt::spawn(handovers.track_future(run(parts.io, read)));
    answered.map_err(Into::into)
}
