use std::time::Duration;

use common::events::kyc::KycDecided;
use common::events::{Envelope, KycEvent, Service, examples};
use common::ids::UserId;
use fred::prelude::ListInterface;
use jsonwebtoken::dangerous::insecure_decode;
use service_kit::queue::Job;

use crate::helpers::{TestApp, spawn_app};

async fn events_on(app: &TestApp, service: Service) -> Vec<Envelope> {
    let queue = app.keys.events(service);
    let raw: Vec<String> = app.redis.lrange(queue.as_str(), 0, -1).await.unwrap();
    raw.iter()
        .map(|r| {
            Job::parse(&queue, r)
                .unwrap()
                .payload_as::<Envelope>()
                .unwrap()
        })
        .collect()
}

/// A KYC decision on `user` (a user JSON from the API).
fn decision(approved: bool, user: &serde_json::Value) -> Envelope {
    let d = KycDecided {
        user_id: UserId(user["id"].as_str().unwrap().parse().unwrap()),
        ..examples::kyc_decided((!approved).then_some("Blurry."))
    };
    let event = if approved {
        KycEvent::Approved(d)
    } else {
        KycEvent::Rejected(d)
    };
    Envelope::of(event, common::clock::system().as_ref()).unwrap()
}

#[tokio::test]
async fn registering_publishes_user_registered_to_admin_and_notifications() {
    let app = spawn_app().await;
    let user = app.register("ev@example.com", "investor").await;
    for consumer in [Service::Admin, Service::Notifications] {
        let event = testkit::wait_for(
            Duration::from_secs(10),
            "user.registered on the queue",
            || async {
                events_on(&app, consumer)
                    .await
                    .into_iter()
                    .find(|e| e.event_type == "user.registered")
            },
        )
        .await;
        assert_eq!(event.producer, Service::Auth);
        assert_eq!(event.payload["user_id"], user["id"]);
        assert_eq!(event.payload["role"], "investor");
        assert!(event.payload.get("password").is_none());
    }
}

#[tokio::test]
async fn a_kyc_approval_event_puts_approved_kyc_in_the_next_token_once() {
    let app = spawn_app().await;
    let (user, access, _) = app.user("seller").await;
    let approved = decision(true, &user);
    // Delivered twice (at-least-once): applied once.
    let queue = app.keys.events(Service::Auth);
    service_kit::queue::enqueue_json(&app.redis, &queue, &approved)
        .await
        .unwrap();
    service_kit::queue::enqueue_json(&app.redis, &queue, &approved)
        .await
        .unwrap();
    testkit::wait_until(Duration::from_secs(10), "kyc approved on /me", || async {
        let me: serde_json::Value = app
            .get_auth("/api/auth/me", &access)
            .await
            .json()
            .await
            .unwrap();
        me["kyc_status"] == "approved"
    })
    .await;
    testkit::wait_until(
        Duration::from_secs(10),
        "both deliveries consumed",
        || async { service_kit::queue::len(&app.redis, &queue).await.unwrap() == 0 },
    )
    .await;
    let tokens = app.login(user["email"].as_str().unwrap()).await;
    let claims = insecure_decode::<common::auth::Claims>(tokens["access_token"].as_str().unwrap())
        .unwrap()
        .claims;
    assert_eq!(claims.kyc, common::auth::KycStatus::Approved);

    // Applied once, seen in an effect that a second application would change: after a
    // rejection, the approval delivered a third time must not make the user approved
    // again. A later event (another user's) shows the redelivery was taken and handled.
    let rejected = decision(false, &user);
    service_kit::queue::enqueue_json(&app.redis, &queue, &rejected)
        .await
        .unwrap();
    let kyc_of = |token: String| {
        let app = &app;
        async move {
            let me: serde_json::Value = app
                .get_auth("/api/auth/me", &token)
                .await
                .json()
                .await
                .unwrap();
            me["kyc_status"].as_str().unwrap_or_default().to_owned()
        }
    };
    testkit::wait_until(Duration::from_secs(10), "kyc rejected on /me", || {
        let access = access.clone();
        async move { kyc_of(access).await == "rejected" }
    })
    .await;
    let (other, other_access, _) = app.user("investor").await;
    let marker = decision(true, &other);
    service_kit::queue::enqueue_json(&app.redis, &queue, &approved)
        .await
        .unwrap();
    service_kit::queue::enqueue_json(&app.redis, &queue, &marker)
        .await
        .unwrap();
    testkit::wait_until(Duration::from_secs(10), "the later event applied", || {
        let other_access = other_access.clone();
        async move { kyc_of(other_access).await == "approved" }
    })
    .await;
    assert_eq!(
        kyc_of(access.clone()).await,
        "rejected",
        "the redelivered approval was applied again"
    );
}
