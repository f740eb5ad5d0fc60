//! `/api/notifications` routes.

mod devices;
mod live;
mod notifications;

use service_kit::http::{ApiError, BearerSecurity};
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

use crate::domain::NotificationError;
use crate::ws::frames::{ClientFrame, ServerFrame};

/// The one mapping of the domain's errors to problems.
impl From<NotificationError> for ApiError {
    fn from(e: NotificationError) -> Self {
        match e {
            NotificationError::TooManyDevices(_) | NotificationError::TokenJustRegistered => {
                ApiError::Conflict(e.to_string())
            }
            NotificationError::NoDevice(_) | NotificationError::NoNotification(_) => {
                ApiError::NotFound(e.to_string())
            }
            NotificationError::TicketRequired | NotificationError::Ticket(_) => {
                ApiError::Unauthorized(e.to_string())
            }
            NotificationError::Store(e) => ApiError::Internal(e),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Vestio notifications", version = "1", description = "Your notifications, their read state, push devices, and live delivery over WebSocket (see the ClientFrame and ServerFrame schemas)."),
    modifiers(&BearerSecurity),
    components(schemas(ClientFrame, ServerFrame)),
    tags((name = "notifications", description = "Stored notifications and their read state"),
         (name = "devices", description = "Push devices"),
         (name = "live", description = "WebSocket tickets and the live connection"),
         (name = "health", description = "Probes"))
)]
pub struct ApiDoc;

/// The service's routes, mounted at `/api/notifications`.
pub fn mount() -> impl actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory {
    scope(utoipa_actix_web::scope("/api/notifications"))
}

/// Every `/api/notifications` route.
pub fn scope<T: service_kit::http::Mount>(scope: Scope<T>) -> Scope<T> {
    scope
        .service(notifications::list)
        .service(notifications::unread_count)
        .service(notifications::read_all)
        .service(notifications::read)
        .service(devices::list)
        .service(devices::register)
        .service(devices::remove)
        .service(live::issue_ticket)
        .service(live::connect)
}
