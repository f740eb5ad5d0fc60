//! Webhook deliveries as records: what was emitted, how many attempts it took, how it
//! ended. Sending them is [`crate::webhooks`]' job.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::State;

/// Every event the sandbox sends, by its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "charge.success")]
    ChargeSuccess,
    #[serde(rename = "charge.failed")]
    ChargeFailed,
    #[serde(rename = "charge.reversed")]
    ChargeReversed,
    #[serde(rename = "refund.processed")]
    RefundProcessed,
    #[serde(rename = "transfer.success")]
    TransferSuccess,
    #[serde(rename = "transfer.failed")]
    TransferFailed,
    #[serde(rename = "transfer.reversed")]
    TransferReversed,
}

/// The faults in force (`POST /_control/faults` replaces them all; `{}` clears them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Send each delivery this many extra times, with the same `webhook-id`.
    pub duplicate: u32,
    /// Hold each delivery this long before its first attempt (`/_control/flush` ends it).
    pub delay_ms: u64,
    /// Hold deliveries; send them newest first on `/_control/flush` or once 5 are held.
    pub reorder: bool,
    /// Count the first N attempts of each delivery as failed without sending them.
    pub drop_first_attempts: u32,
}

pub(crate) struct Delivery {
    webhook_id: String,
    event: EventType,
    data: Value,
    /// The exact bytes sent (and signed) at every attempt.
    body: Vec<u8>,
    created_at: DateTime<Utc>,
    attempts: u32,
    pub delivered: bool,
    pub failed: bool,
    last_status: Option<u16>,
    last_error: Option<String>,
}

/// One delivery as `GET /_control/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    /// The `webhook-id`: `msg_<uuid v7>`, the same on every attempt and duplicate.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// HTTP requests tried, plus attempts dropped by the `drop_first_attempts` fault.
    pub attempts: u32,
    pub delivered: bool,
    pub failed: bool,
    /// The receiver's status at the last attempt (`null`: no answer, or dropped).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The event's `data`.
    pub data: Value,
}

/// What one attempt needs to send.
pub(crate) struct Attempt {
    pub webhook_id: String,
    pub body: Vec<u8>,
    /// 1 for the first attempt of the delivery.
    pub number: u32,
}

impl State {
    /// Records a delivery of `event` with `data` (body `{"type", "timestamp", "data"}`).
    pub(super) fn emit(&mut self, event: EventType, data: impl Serialize, now: DateTime<Utc>) {
        let data = serde_json::to_value(data).unwrap_or_default();
        let body = json!({"type": event, "timestamp": now, "data": data});
        let delivery = Delivery {
            webhook_id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
            event,
            data,
            body: serde_json::to_vec(&body).unwrap_or_default(),
            created_at: now,
            attempts: 0,
            delivered: false,
            failed: false,
            last_status: None,
            last_error: None,
        };
        tracing::info!(webhook_id = %delivery.webhook_id, ?event, "Webhook recorded.");
        self.unsent.push(self.deliveries.len());
        self.deliveries.push(delivery);
    }

    pub fn deliveries(&self) -> Vec<DeliveryView> {
        self.deliveries
            .iter()
            .map(|d| DeliveryView {
                id: d.webhook_id.clone(),
                event_type: d.event,
                attempts: d.attempts,
                delivered: d.delivered,
                failed: d.failed,
                last_status: d.last_status,
                last_error: d.last_error.clone(),
                created_at: d.created_at,
                data: d.data.clone(),
            })
            .collect()
    }

    /// Counts an attempt of delivery `index` and hands over what to send.
    pub fn begin_attempt(&mut self, index: usize) -> Option<Attempt> {
        let d = self.deliveries.get_mut(index)?;
        d.attempts += 1;
        Some(Attempt {
            webhook_id: d.webhook_id.clone(),
            body: d.body.clone(),
            number: d.attempts,
        })
    }

    pub fn record_attempt(&mut self, index: usize, status: Option<u16>, error: Option<String>) {
        if let Some(d) = self.deliveries.get_mut(index) {
            d.last_status = status;
            d.last_error = error;
        }
    }

    /// Marks delivery `index` sent (`true`) or, unless it was sent before, failed.
    pub fn finish(&mut self, index: usize, delivered: bool) {
        if let Some(d) = self.deliveries.get_mut(index) {
            if delivered {
                d.delivered = true;
            } else if !d.delivered {
                d.failed = true;
            }
        }
    }
}
