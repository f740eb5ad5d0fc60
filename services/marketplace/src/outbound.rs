//! What follows a committed change of offers: the relay sends their events, subscribers
//! of `offer:{offerId}` and `seller:{sellerId}` hear of them, the counters follow. It
//! takes what the transactions produced ([`Changed`]); failures are logged: the changes
//! themselves have happened.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::AppState;
use crate::store::live::{Counter, Follow};
use crate::store::offers::{self, Change, Changed, OfferStatus, OfferView};

/// The live message on `offer:{offerId}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LiveOffer {
    pub offer_id: Uuid,
    pub invoice_id: Uuid,
    pub status: OfferStatus,
    pub change: Change,
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The live message on `seller:{sellerId}` for a new offer.
#[derive(Debug, Serialize, Deserialize)]
pub struct LiveNewOffer {
    pub change: Change,
    pub offer: OfferView,
}

/// After committed changes: the relay sends their events; in one Redis round trip
/// subscribers hear of them, the counters follow and the cached cards and trending pages
/// are marked stale. Failures are logged: the changes themselves have happened.
pub async fn after(state: &AppState, changes: &[Changed]) {
    if changes.is_empty() {
        return;
    }
    state.relay.wake();
    let mut follow = Follow::default();
    for c in changes {
        let o = &c.offer;
        follow.touched(o.invoice_id);
        let (view, status) = match offers::view(o).and_then(|v| Ok((v, offers::status_of(o)?))) {
            Ok(ok) => ok,
            Err(error) => {
                tracing::error!(%error, "Offer change not published.");
                continue;
            }
        };
        if c.change == Change::Placed {
            let msg = LiveNewOffer {
                change: Change::Placed,
                offer: view,
            };
            follow
                .publish(state.keys.seller_channel(o.seller_id), &msg)
                .count(Counter::Active(o.invoice_id), 1)
                .count(Counter::Placed(o.invoice_id), 1)
                .count(Counter::Total, 1);
        }
        let msg = LiveOffer {
            offer_id: o.id,
            invoice_id: o.invoice_id,
            status,
            change: c.change,
            reason: o.reason.clone(),
            updated_at: o.updated_at,
        };
        follow.publish(state.keys.offer_channel(o.id), &msg);
        if c.left_active {
            follow.count(Counter::Active(o.invoice_id), -1);
        }
    }
    follow.send(state).await;
}
