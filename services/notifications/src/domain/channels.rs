//! The live channels a WebSocket client may ask for, and who may have them.
//!
//! Names are the platform's channel names without the Redis prefix (what
//! `Keys::default()` builds): `seller:{id}`, `invoice:{id}`, `offer:{id}`, `payment:{id}`,
//! `kyc:status:{userId}`, `admin:kyc`, `admin:events`. The user's own `user:{id}:notifications` is joined
//! at connect and cannot be asked for.

use common::auth::Role;
use common::keys::Keys;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveChannel {
    Seller(Uuid),
    Invoice(Uuid),
    Offer(Uuid),
    Payment(Uuid),
    KycStatus(Uuid),
    AdminKyc,
    /// Every audit row as admin records it.
    AdminEvents,
}

impl LiveChannel {
    /// Parses a client's channel name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        let plain = Keys::default();
        if name == plain.admin_kyc_channel() {
            return Some(Self::AdminKyc);
        }
        if name == plain.admin_events_channel() {
            return Some(Self::AdminEvents);
        }
        let (_, id) = name.rsplit_once(':')?;
        let id: Uuid = id.parse().ok()?;
        [
            Self::Seller(id),
            Self::Invoice(id),
            Self::Offer(id),
            Self::Payment(id),
            Self::KycStatus(id),
        ]
        .into_iter()
        .find(|c| c.name(&plain) == name)
    }

    /// The channel's Redis name under `keys`' prefix.
    pub fn name(&self, keys: &Keys) -> String {
        match *self {
            Self::Seller(id) => keys.seller_channel(id),
            Self::Invoice(id) => keys.invoice_channel(id),
            Self::Offer(id) => keys.offer_channel(id),
            Self::Payment(id) => keys.payment(id),
            Self::KycStatus(id) => keys.kyc_status_channel(id),
            Self::AdminKyc => keys.admin_kyc_channel(),
            Self::AdminEvents => keys.admin_events_channel(),
        }
    }

    /// The name clients use (no prefix).
    pub fn public_name(&self) -> String {
        self.name(&Keys::default())
    }

    /// Whether `user` may listen without asking the record of events: their own seller
    /// and KYC channels, and `admin:kyc` and `admin:events` for admins. `None`: only the record can tell
    /// (invoice, offer and payment channels; admins may listen to any).
    pub fn by_identity(&self, user: Uuid, role: Role) -> Option<bool> {
        match *self {
            Self::Seller(id) => Some(role == Role::Seller && id == user),
            Self::KycStatus(id) => Some(id == user || role == Role::Admin),
            Self::AdminKyc | Self::AdminEvents => Some(role == Role::Admin),
            Self::Invoice(_) | Self::Offer(_) | Self::Payment(_) if role == Role::Admin => {
                Some(true)
            }
            Self::Invoice(_) | Self::Offer(_) | Self::Payment(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_the_platform_channel_names() {
        let id = Uuid::now_v7();
        for c in [
            LiveChannel::Seller(id),
            LiveChannel::Invoice(id),
            LiveChannel::Offer(id),
            LiveChannel::Payment(id),
            LiveChannel::KycStatus(id),
            LiveChannel::AdminKyc,
            LiveChannel::AdminEvents,
        ] {
            assert_eq!(LiveChannel::parse(&c.public_name()), Some(c));
        }
        let plain = Keys::default();
        let offer = LiveChannel::Offer(id).public_name();
        let head = offer.trim_end_matches(&id.to_string()).to_owned();
        for bad in [
            String::new(),
            "admin".to_owned(),
            head.clone(),
            format!("{head}not-a-uuid"),
            plain.user_notifications_channel(id),
            format!("x:{offer}"),
            plain.blacklisted(&id.to_string()),
            format!("{offer}:extra"),
        ] {
            let bad = bad.as_str();
            assert_eq!(LiveChannel::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn identity_rules() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        assert_eq!(
            LiveChannel::Seller(me).by_identity(me, Role::Seller),
            Some(true)
        );
        assert_eq!(
            LiveChannel::Seller(other).by_identity(me, Role::Seller),
            Some(false)
        );
        assert_eq!(
            LiveChannel::Seller(me).by_identity(me, Role::Investor),
            Some(false)
        );
        assert_eq!(
            LiveChannel::KycStatus(other).by_identity(me, Role::Investor),
            Some(false)
        );
        assert_eq!(
            LiveChannel::AdminKyc.by_identity(me, Role::Seller),
            Some(false)
        );
        assert_eq!(
            LiveChannel::AdminKyc.by_identity(me, Role::Admin),
            Some(true)
        );
        for role in [Role::Seller, Role::Investor] {
            assert_eq!(LiveChannel::AdminEvents.by_identity(me, role), Some(false));
        }
        assert_eq!(
            LiveChannel::AdminEvents.by_identity(me, Role::Admin),
            Some(true)
        );
        assert_eq!(
            LiveChannel::Offer(other).by_identity(me, Role::Investor),
            None
        );
        assert_eq!(
            LiveChannel::Offer(other).by_identity(me, Role::Admin),
            Some(true)
        );
    }
}
