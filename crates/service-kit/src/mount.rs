//! What a service's routes are mounted on.

use actix_web::dev::{ServiceFactory, ServiceRequest};

/// The inner service of the `Scope` a service's routes are added to (what
/// `crate::http::serve` hands `routes::scope`): `fn scope<T: Mount>(s: Scope<T>) -> Scope<T>`
/// instead of spelling out actix's bounds in every service.
pub trait Mount:
    ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>
{
}

impl<T> Mount for T where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>
{
}
