//! The operator commands of the `auth` binary.

use common::auth::Role;
use common::clock::SharedClock;
use common::keys::Keys;

use crate::config::AuthConfig;
use crate::domain::{Email, FullName, Password, hash_password};
use crate::store::migration::Migrator;
use crate::store::users::{self, NewUser};

pub async fn create_admin(
    config: &AuthConfig,
    clock: SharedClock,
    email: &str,
    password: &str,
    full_name: &str,
) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("email {e}"))?;
    let password = Password::parse(password).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let full_name = FullName::parse(full_name).map_err(|e| anyhow::anyhow!("full name {e}"))?;
    let db = service_kit::db::connect_and_migrate::<Migrator>(&config.base.database_url).await?;
    if users::by_email(&db, email.as_str()).await?.is_some() {
        anyhow::bail!("{} is already registered", email.as_str());
    }
    let txn = service_kit::db::begin_write(&db).await?;
    let user = users::create(
        &txn,
        NewUser {
            email: email.as_str().to_owned(),
            password_hash: hash_password(password.expose())?,
            role: Role::Admin,
            full_name,
            company_name: None,
        },
        clock.now(),
        clock.as_ref(),
    )
    .await?;
    txn.commit().await?;
    println!("admin {} created with id {}", user.email, user.id);
    Ok(())
}

pub fn rotate_key(config: &AuthConfig, clock: SharedClock) -> anyhow::Result<()> {
    let kid = crate::store::keystore::generate_key(&config.keys_dir, &clock)?;
    println!("new signing key {kid} in {}", config.keys_dir.display());
    Ok(())
}

pub async fn retire_key(config: &AuthConfig, kid: &str) -> anyhow::Result<()> {
    let redis = service_kit::redis::pool(&config.base.redis_url, 1).await?;
    let keys = Keys::new(&config.base.redis_prefix);
    let removed = common::auth::retire_jwk(&redis, &keys, kid).await?;
    println!(
        "{kid}: {}",
        if removed {
            "withdrawn"
        } else {
            "was not published"
        }
    );
    Ok(())
}

/// `auth reset-totp --email E`: removes E's second factor.
pub async fn reset_totp(config: &AuthConfig, email: &str) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("email {e}"))?;
    let db = service_kit::db::connect_and_migrate::<Migrator>(&config.base.database_url).await?;
    let user = users::by_email(&db, email.as_str())
        .await?
        .ok_or_else(|| anyhow::anyhow!("{} is not registered", email.as_str()))?;
    if crate::store::totp::remove(&db, user.id).await? {
        println!("second factor of {} removed", user.email);
    } else {
        println!("{} had no second factor", user.email);
    }
    Ok(())
}
