use common::auth::{Claims, JwtSigner, KycStatus, Role, SigningKey};
use common::keys::Keys;
use uuid::Uuid;

/// A signing key of the test's own, published under the test's Redis prefix so the
/// service under test verifies the tokens it mints.
pub struct TestKeys {
    pub signer: JwtSigner,
    pub issuer: String,
    pub audience: String,
}

impl TestKeys {
    pub const ISSUER: &'static str = "vestio-auth";
    pub const AUDIENCE: &'static str = "vestio";

    /// Generates a key and publishes it in `auth:jwks` under `keys`' prefix.
    pub async fn publish(redis: &service_kit::redis::Pool, keys: &Keys) -> Self {
        let kid = format!("test-{}", Uuid::new_v4().simple());
        let (key, _pem) = SigningKey::generate(&kid).expect("generate RSA key");
        let signer = JwtSigner::new(vec![key], Self::ISSUER, Self::AUDIENCE, 900).expect("signer");
        common::auth::publish_jwks(redis, keys, signer.jwks())
            .await
            .expect("publish jwks");
        Self {
            signer,
            issuer: Self::ISSUER.into(),
            audience: Self::AUDIENCE.into(),
        }
    }

    pub fn claims(&self, user: Uuid, role: Role, kyc: KycStatus) -> Claims {
        self.signer
            .claims(user, role, kyc, Uuid::now_v7(), chrono::Utc::now())
    }

    /// A valid token for a new user id of `role`.
    pub fn token(&self, user: Uuid, role: Role, kyc: KycStatus) -> String {
        self.sign(&self.claims(user, role, kyc))
    }

    pub fn sign(&self, claims: &Claims) -> String {
        self.signer.sign(claims).expect("sign")
    }
}
