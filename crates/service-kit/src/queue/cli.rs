//! `<service> dead-letters list|requeue`: what an operator does with a queue's dead
//! letters (jobs a handler could not use, or that failed every attempt) after a fix.

use uuid::Uuid;

use super::{QueueName, dead_letters, requeue_dead};

/// The `dead-letters` subcommand of every service binary.
#[derive(Debug, clap::Subcommand)]
pub enum DeadLetters {
    /// The newest dead letters, each with its id, attempts, event type and last error.
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Put dead letters back on the queue (no attempts, no error): the ids given, or every
    /// one with --all.
    Requeue {
        ids: Vec<Uuid>,
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

impl DeadLetters {
    /// Runs the command on `queue` of the Redis at `redis_url`.
    pub async fn run(&self, redis_url: &str, queue: &QueueName) -> anyhow::Result<()> {
        let redis = crate::redis::pool(redis_url, 1).await?;
        match self {
            DeadLetters::List { limit } => {
                let dead = dead_letters(&redis, queue, *limit).await?;
                println!(
                    "{} dead letter(s) on {} (newest first)",
                    dead.len(),
                    queue.as_str()
                );
                for job in dead {
                    let kind = job.payload["type"].as_str().unwrap_or("-");
                    println!(
                        "{}  attempts {}  {kind}  {}",
                        job.id,
                        job.attempts,
                        job.last_error.as_deref().unwrap_or("")
                    );
                }
            }
            DeadLetters::Requeue { ids, all } => {
                anyhow::ensure!(*all || !ids.is_empty(), "name the ids to requeue, or --all");
                let n = requeue_dead(&redis, queue, ids).await?;
                println!("{n} dead letter(s) requeued on {}", queue.as_str());
            }
        }
        Ok(())
    }
}
