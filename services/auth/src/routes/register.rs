use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use service_kit::http::{ApiError, FieldError, JsonBodyErrors};
use utoipa::ToSchema;

use crate::domain::{
    AuthError, CompanyName, Email, FullName, Password, SelfRegisterRole, hash_password,
};
use crate::state::AppState;
use crate::store::users::{self, NewUser, UserView};

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// 10 to 128 characters, not only digits, not one character repeated.
    #[schema(
        example = "correct horse 42",
        min_length = 10,
        max_length = 128,
        pattern = r"^(?![0-9]*(?![\s\S]))(?!([\s\S])\1*(?![\s\S]))[\s\S]{10,128}$"
    )]
    pub password: String,
    /// `seller` or `investor` (admins are created by an operator).
    #[schema(example = "seller", pattern = "^(seller|investor)$")]
    pub role: String,
    /// 1 to 100 characters, not only spaces, no control characters.
    #[schema(
        example = "Ada Obi",
        min_length = 1,
        max_length = 100,
        pattern = r"^(?=[\s\S]*[^ ])[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub full_name: String,
    /// At most 200 characters, no control characters; empty or only spaces is none.
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub company_name: Option<String>,
}

fn check<T>(errors: &mut Vec<FieldError>, field: &str, r: Result<T, String>) -> Option<T> {
    r.map_err(|message| {
        errors.push(FieldError {
            field: field.to_owned(),
            message,
        })
    })
    .ok()
}

/// Create a seller or investor account.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserView),
        (status = 409, description = "Email already registered"),
        JsonBodyErrors,
        (status = 429, description = "Too many requests"),
    )
)]
#[post("/register")]
pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    let email = check(&mut errors, "email", Email::parse(&body.email));
    let password = check(&mut errors, "password", Password::parse(&body.password));
    let role = check(&mut errors, "role", SelfRegisterRole::parse(&body.role));
    let full_name = check(&mut errors, "full_name", FullName::parse(&body.full_name));
    let company_name = match body.company_name.as_deref() {
        None => None,
        Some(c) if c.trim_matches(' ').is_empty() => None,
        Some(c) => check(&mut errors, "company_name", CompanyName::parse(c)),
    };
    let (Some(email), Some(password), Some(role), Some(full_name), true) =
        (email, password, role, full_name, errors.is_empty())
    else {
        return Err(ApiError::fields(errors));
    };
    if users::by_email(&state.db, email.as_str()).await?.is_some() {
        return Err(AuthError::EmailTaken.into());
    }
    let secret = password.expose().to_owned();
    let password_hash = web::block(move || hash_password(&secret))
        .await
        .map_err(ApiError::internal)??;
    let now = state.clock.now();
    let txn = service_kit::db::begin_write(&state.db).await?;
    let created = users::create(
        &txn,
        NewUser {
            email: email.as_str().to_owned(),
            password_hash,
            role,
            full_name,
            company_name,
        },
        now,
        state.clock.as_ref(),
    )
    .await;
    let user = match created {
        Ok(u) => u,
        Err(e) => {
            return Err(match e.downcast::<sea_orm::DbErr>() {
                Ok(db) if service_kit::db::is_unique_violation(&db) => AuthError::EmailTaken.into(),
                Ok(db) => ApiError::from(db),
                Err(other) => ApiError::internal(other),
            });
        }
    };
    txn.commit().await?;
    state.relay.wake();
    tracing::info!(user_id = %user.id, role = role.as_str(), "User registered.");
    Ok(HttpResponse::Created().json(UserView::try_from(&user)?))
}
