//! The Paystack adapter against a wiremock stand-in of Paystack's API: the requests it
//! sends (paths, bearer key, bodies in minor units, our reference) and how it reads the
//! answers, including refusals and outages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::money::Currency;
use payments::ProviderConfig;
use payments::provider::{Checkout, PaymentProvider, ProviderError, ProviderStatus, Transfer};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk_test_0123456789";

async fn paystack() -> (MockServer, impl PaymentProvider) {
    let server = MockServer::start().await;
    let provider = payments::provider::from_config(&ProviderConfig::Paystack {
        url: server.uri(),
        secret_key: SecretString::from(KEY),
    })
    .unwrap();
    (server, provider)
}

#[tokio::test]
async fn a_checkout_is_initialized_with_our_reference_and_verified_by_it() {
    let (server, p) = paystack().await;
    Mock::given(method("POST"))
        .and(path("/transaction/initialize"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({"reference": "vst_abc0123456789012", "amount": 14556164400i64, "currency": "NGN"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Authorization URL created",
            "data": {"authorization_url": "https://checkout.paystack.com/x1", "access_code": "x1", "reference": "vst_abc0123456789012"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/transaction/verify/vst_abc0123456789012"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Verification successful",
            "data": {"id": 4099260516i64, "status": "success", "reference": "vst_abc0123456789012", "amount": 14556164400i64, "currency": "NGN", "gateway_response": "Successful"}
        })))
        .mount(&server)
        .await;
    let started = p
        .initialize(Checkout {
            reference: "vst_abc0123456789012",
            amount_minor: 14_556_164_400,
            currency: Currency::NGN,
            email: "a@example.com",
        })
        .await
        .unwrap();
    assert_eq!(
        started.authorization_url,
        "https://checkout.paystack.com/x1"
    );
    let charge = p.verify("vst_abc0123456789012").await.unwrap();
    assert_eq!(charge.status, ProviderStatus::Success);
    assert_eq!(charge.amount, 14_556_164_400);
    assert_eq!(charge.currency, "NGN");
}

#[tokio::test]
async fn refusals_outages_and_unknown_references_are_told_apart() {
    let (server, p) = paystack().await;
    Mock::given(method("GET"))
        .and(path("/transaction/verify/vst_missing0000000000"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                json!({"status": false, "message": "Transaction reference not found"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/transaction/verify/vst_down000000000000"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/transfer"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"status": false, "message": "Insufficient balance"})),
        )
        .mount(&server)
        .await;
    assert!(matches!(
        p.verify("vst_missing0000000000").await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        p.verify("vst_down000000000000").await,
        Err(ProviderError::Unavailable(_))
    ));
    let refused = p
        .transfer(Transfer {
            reference: "vst_t00000000000000",
            amount_minor: 100,
            currency: Currency::NGN,
            recipient: "RCP_1",
            reason: "x",
        })
        .await;
    assert!(
        matches!(&refused, Err(ProviderError::Refused(m)) if m.contains("Insufficient balance")),
        "{refused:?}"
    );
    // A reference that could carry a path is refused before any request.
    assert!(matches!(
        p.verify("../transfer").await,
        Err(ProviderError::Refused(_))
    ));
}

#[tokio::test]
async fn transfers_go_to_a_resolved_recipient_under_our_reference() {
    let (server, p) = paystack().await;
    Mock::given(method("GET"))
        .and(path("/bank/resolve"))
        .and(query_param("account_number", "0001234567"))
        .and(query_param("bank_code", "058"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Account number resolved",
            "data": {"account_number": "0001234567", "account_name": "ADA OBI", "bank_id": 9}
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/transferrecipient"))
        .and(body_partial_json(
            json!({"type": "nuban", "account_number": "0001234567", "bank_code": "058"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "status": true, "message": "Transfer recipient created successfully",
            "data": {"recipient_code": "RCP_m7ljkv8leesep7p", "active": true}
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/transfer"))
        .and(body_partial_json(json!({"source": "balance", "amount": 14406164400i64, "recipient": "RCP_m7ljkv8leesep7p", "reference": "vst_payout000000000001"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Transfer has been queued",
            "data": {"reference": "vst_payout000000000001", "status": "pending", "amount": 14406164400i64, "currency": "NGN", "transfer_code": "TRF_1"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/transfer/verify/vst_payout000000000001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Transfer retrieved",
            "data": {"reference": "vst_payout000000000001", "status": "success", "amount": 14406164400i64, "currency": "NGN"}
        })))
        .mount(&server)
        .await;
    let name = p.resolve_account("058", "0001234567").await.unwrap();
    assert_eq!(name.account_name, "ADA OBI");
    let code = p
        .recipient("ADA OBI", "058", "0001234567", Currency::NGN)
        .await
        .unwrap();
    assert_eq!(code, "RCP_m7ljkv8leesep7p");
    let t = p
        .transfer(Transfer {
            reference: "vst_payout000000000001",
            amount_minor: 14_406_164_400,
            currency: Currency::NGN,
            recipient: &code,
            reason: "payout",
        })
        .await
        .unwrap();
    assert_eq!(t.status, ProviderStatus::Pending);
    assert!(!t.status.is_final());
    let t = p.verify_transfer("vst_payout000000000001").await.unwrap();
    assert_eq!(t.status, ProviderStatus::Success);
    assert!(t.status.is_final());
}

#[tokio::test]
async fn what_was_refunded_is_read_from_the_transactions_refunds_list() {
    let (server, p) = paystack().await;
    // Paystack's verify says nothing of refunds; its id names the transaction in the
    // refunds list, where a failed refund does not count.
    Mock::given(method("GET"))
        .and(path("/transaction/verify/vst_refunded000000001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Verification successful",
            "data": {"id": 4099260517i64, "status": "success", "reference": "vst_refunded000000001", "amount": 500000, "currency": "NGN"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/refund"))
        .and(query_param("transaction", "4099260517"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Refunds retrieved",
            "data": [
                {"id": 1, "transaction": 4099260517i64, "amount": 120000, "currency": "NGN", "status": "processed"},
                {"id": 2, "transaction": 4099260517i64, "amount": 30000, "currency": "NGN", "status": "pending"},
                {"id": 3, "transaction": 4099260517i64, "amount": 99999, "currency": "NGN", "status": "failed"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(p.refunded("vst_refunded000000001").await.unwrap(), 150_000);

    // No refunds yet: nothing refunded.
    Mock::given(method("GET"))
        .and(path("/transaction/verify/vst_unrefunded0000001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Verification successful",
            "data": {"id": 7, "status": "success", "reference": "vst_unrefunded0000001", "amount": 500000, "currency": "NGN"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/refund"))
        .and(query_param("transaction", "7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Refunds retrieved", "data": []
        })))
        .mount(&server)
        .await;
    assert_eq!(p.refunded("vst_unrefunded0000001").await.unwrap(), 0);

    // An outage while listing is "try later", never "nothing was refunded".
    Mock::given(method("GET"))
        .and(path("/transaction/verify/vst_outage00000000001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": true, "message": "Verification successful",
            "data": {"id": 8, "status": "success", "reference": "vst_outage00000000001", "amount": 500000, "currency": "NGN"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/refund"))
        .and(query_param("transaction", "8"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    assert!(matches!(
        p.refunded("vst_outage00000000001").await,
        Err(ProviderError::Unavailable(_))
    ));
}
