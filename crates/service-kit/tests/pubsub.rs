//! Publishing and subscribing against a redis-server of the test's own: delivery, a
//! restart of the server, and a receiver that falls behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use service_kit::pubsub::{Message, Messages, Subscriber, publish};
use testkit::RedisServer;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StatusChanged {
    invoice: u32,
    status: String,
}

fn status(invoice: u32) -> StatusChanged {
    StatusChanged {
        invoice,
        status: "funded".into(),
    }
}

async fn next(messages: &mut Messages) -> Message {
    tokio::time::timeout(Duration::from_secs(5), messages.recv())
        .await
        .expect("a message within 5 s")
        .expect("the subscriber is open")
}

#[tokio::test]
async fn a_subscriber_receives_what_is_published_on_its_channel_as_json() {
    let server = RedisServer::start();
    let pool = service_kit::redis::pool(&server.url(), 1).await.unwrap();
    let subscriber = Subscriber::connect(&server.url()).await.unwrap();
    subscriber.subscribe("invoice:1").await.unwrap();
    let mut messages = subscriber.messages();

    let receivers = publish(&pool, "invoice:1", &status(1)).await.unwrap();

    assert_eq!(receivers, 1);
    let message = next(&mut messages).await;
    assert_eq!(message.channel, "invoice:1");
    assert_eq!(message.json::<StatusChanged>().unwrap(), status(1));
    assert_eq!(subscriber.channels(), vec!["invoice:1".to_owned()]);
}

#[tokio::test]
async fn a_filtered_receiver_sees_only_its_channels_and_unsubscribing_stops_delivery() {
    let server = RedisServer::start();
    let pool = service_kit::redis::pool(&server.url(), 1).await.unwrap();
    let subscriber = Subscriber::connect(&server.url()).await.unwrap();
    subscriber
        .subscribe_all(&["offer:1", "offer:2"])
        .await
        .unwrap();
    let mut only_two = subscriber.messages_on(["offer:2"]);

    publish(&pool, "offer:1", &status(1)).await.unwrap();
    publish(&pool, "offer:2", &status(2)).await.unwrap();
    assert_eq!(
        next(&mut only_two).await.json::<StatusChanged>().unwrap(),
        status(2)
    );

    subscriber.unsubscribe("offer:2").await.unwrap();
    // Once Redis has the unsubscription (NUMSUB 0), nothing is delivered on the channel.
    testkit::wait_until(
        std::time::Duration::from_secs(5),
        "offer:2 unsubscribed",
        || async { testkit::subscribers(&pool, "offer:2").await == 0 },
    )
    .await;
    assert_eq!(publish(&pool, "offer:2", &status(3)).await.unwrap(), 0);
    assert_eq!(subscriber.channels(), vec!["offer:1".to_owned()]);
}

#[tokio::test]
async fn a_subscriber_resubscribes_and_keeps_receiving_after_redis_restarts() {
    let mut server = RedisServer::start();
    let pool = service_kit::redis::pool(&server.url(), 1).await.unwrap();
    let subscriber = Subscriber::connect(&server.url()).await.unwrap();
    subscriber.subscribe("seller:7").await.unwrap();
    let mut messages = subscriber.messages();
    publish(&pool, "seller:7", &status(1)).await.unwrap();
    assert_eq!(
        next(&mut messages).await.json::<StatusChanged>().unwrap(),
        status(1)
    );

    server.restart();

    // Both clients reconnect with backoff; publish until the resubscribed receiver hears.
    let deadline = Instant::now() + Duration::from_secs(30);
    let received = loop {
        assert!(Instant::now() < deadline, "no message after the restart");
        let _ = publish(&pool, "seller:7", &status(2)).await;
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(200), messages.recv()).await
        {
            break message;
        }
    };
    assert_eq!(received.channel, "seller:7");
    assert_eq!(received.json::<StatusChanged>().unwrap(), status(2));
}

#[tokio::test]
async fn a_receiver_that_falls_behind_skips_what_it_lost_and_keeps_receiving() {
    let server = RedisServer::start();
    let pool = service_kit::redis::pool(&server.url(), 1).await.unwrap();
    let subscriber = Subscriber::connect(&server.url()).await.unwrap();
    subscriber.subscribe("admin:kyc").await.unwrap();
    let mut slow = subscriber.messages();

    // A receiver read all along tells when everything has been delivered.
    let mut fast = subscriber.messages().into_stream();
    let total = u32::try_from(service_kit::redis::SUBSCRIBER_BUFFER).unwrap() + 200;
    let reader = tokio::spawn(async move {
        while let Some(message) = fast.next().await {
            if message.json::<StatusChanged>().unwrap().invoice == total - 1 {
                return;
            }
        }
    });
    for i in 0..total {
        publish(&pool, "admin:kyc", &status(i)).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("every message delivered")
        .unwrap();

    // The slow receiver's buffer (SUBSCRIBER_BUFFER) overflowed: it skips, then goes on.
    let first = next(&mut slow).await.json::<StatusChanged>().unwrap();
    assert!(first.invoice > 0, "the oldest messages were dropped");
    assert_eq!(slow.lagged(), u64::from(first.invoice));
    assert!(subscriber.lagged_total() >= slow.lagged());

    publish(&pool, "admin:kyc", &status(total)).await.unwrap();
    let mut last = first;
    while last.invoice != total {
        last = next(&mut slow).await.json().unwrap();
    }
    assert_eq!(last, status(total));
}
