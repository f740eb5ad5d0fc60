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

/// Declares the problem+json error body once for every service: each route lists its
/// error statuses with a description only (`(status = 404, description = "No such
/// invoice")`), and every 4xx/5xx response without a body of its own gets
/// `application/problem+json` with the `Problem` schema (registered here with
/// `FieldError`). [`api_docs`] applies it to the document it serves.
pub struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in [
            (
                "Problem",
                <super::Problem as utoipa::PartialSchema>::schema(),
            ),
            (
                "FieldError",
                <super::FieldError as utoipa::PartialSchema>::schema(),
            ),
        ] {
            components.schemas.entry(name.to_owned()).or_insert(schema);
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in &mut operation.responses.responses {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if is_error && response.content.is_empty() {
                        response.content.insert(
                            super::PROBLEM_JSON.to_owned(),
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Problem")))
                                .build()
                                .into(),
                        );
                    }
                }
            }
        }
    }
}

/// `/api-docs/openapi.json` and a browsable UI at `/api-docs/` (vendored, no CDN). The UI
/// loads the document by a relative URL so it also works behind the gateway at
/// `/api-docs/<service>/`. The document gets the shared error bodies ([`ProblemResponses`]).
pub fn api_docs(mut api: OpenApi) -> SwaggerUi {
    ProblemResponses.modify(&mut api);
    SwaggerUi::new("/api-docs/{_:.*}")
        .url("/api-docs/openapi.json", api)
        .config(Config::new(["openapi.json"]))
}
