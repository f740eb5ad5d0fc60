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

/// A service's API routes and, beside them, pages that are not part of its API (a web
/// console's HTML, script and style): the pages are served but stay out of the OpenAPI
/// document, like the Swagger UI at `/api-docs/`. Pass `|| WithPages(routes::mount(), pages)`
/// to `Kit::serve`.
pub struct WithPages<A, P>(pub A, pub P);

impl<A, P> actix_web::dev::HttpServiceFactory for WithPages<A, P>
where
    A: actix_web::dev::HttpServiceFactory,
    P: actix_web::dev::HttpServiceFactory,
{
    fn register(self, config: &mut actix_web::dev::AppService) {
        self.0.register(config);
        self.1.register(config);
    }
}

impl<A: utoipa_actix_web::OpenApiFactory, P> utoipa_actix_web::OpenApiFactory for WithPages<A, P> {
    fn paths(&self) -> utoipa::openapi::path::Paths {
        self.0.paths()
    }

    fn schemas(
        &self,
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        self.0.schemas(schemas);
    }
}
