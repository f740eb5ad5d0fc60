use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Adds the `bearer` security scheme (an RS256 access token from auth).
pub struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token from POST /api/auth/login"))
                    .build(),
            ),
        );
    }
}

/// `/api-docs/openapi.json` and a browsable UI at `/api-docs/` (vendored, no CDN). The UI
/// loads the document by a relative URL so it also works behind the gateway at
/// `/api-docs/<service>/`.
pub fn api_docs(api: OpenApi) -> SwaggerUi {
    SwaggerUi::new("/api-docs/{_:.*}")
        .url("/api-docs/openapi.json", api)
        .config(Config::new(["openapi.json"]))
}
