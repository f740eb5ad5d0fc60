//! The queue's Lua scripts. Every key a script touches is passed in `KEYS` and carries
//! the queue's hash tag (see [`common::keys::QueueName`]), so each script runs in one slot
//! on Redis Cluster. Times come from the server's `TIME`, so workers' clocks may disagree
//! without moving a retry.

use std::sync::LazyLock;

use fred::interfaces::LuaInterface;
use fred::prelude::FromValue;
use fred::types::scripts::Script;

use crate::redis::RedisError;

/// A script sent by hash, and by body the first time a server has not seen it (public as
/// [`crate::redis::Lua`] for the services' own scripts).
pub struct Lua(Script);

impl Lua {
    pub fn new(body: &'static str) -> Self {
        Self(Script::from_lua(body))
    }

    pub async fn call<R, C>(
        &self,
        client: &C,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R, RedisError>
    where
        R: FromValue,
        C: LuaInterface + Send + Sync,
    {
        match client
            .evalsha(self.0.sha1().clone(), keys.clone(), args.clone())
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                let body = self.0.lua().cloned().unwrap_or_default();
                client.eval(body, keys, args).await
            }
            other => other,
        }
    }

    /// Queues the script in `pipeline` as `EVAL` with its body (a pipeline's answers come
    /// together, too late to resend one on `NOSCRIPT`; fred's pipelines have no `EVAL` of
    /// their own, so it goes as a custom command routed by its first key).
    pub async fn queue<C>(
        &self,
        pipeline: &C,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<(), RedisError>
    where
        C: fred::interfaces::ClientLike + Send + Sync,
    {
        let command = fred::types::CustomCommand::new_static(
            "EVAL",
            fred::types::ClusterHash::Offset(2),
            false,
        );
        let mut words = Vec::with_capacity(2 + keys.len() + args.len());
        words.push(self.0.lua().cloned().unwrap_or_default().to_string());
        words.push(keys.len().to_string());
        words.extend(keys);
        words.extend(args);
        pipeline.custom(command, words).await
    }
}

/// KEYS: workers set, heartbeat. ARGV: worker id, ttl ms.
/// Registers the worker and refreshes its heartbeat in one step, so the reaper never sees
/// a registered worker without a heartbeat because of the order of two commands.
pub(crate) static HEARTBEAT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 1
",
    )
});

/// KEYS: queue, processing list, heartbeat, workers set. ARGV: worker id, force ('1'/'0').
/// Returns the worker's in-flight jobs to the head of the queue (the end consumers take
/// from, oldest first) and forgets the worker, unless its heartbeat is still alive and
/// `force` is not set (then -1). Atomic, so concurrent reapers return each job once.
pub(crate) static REAP: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then
  return -1
end
local n = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT') do
  n = n + 1
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return n
",
    )
});

/// KEYS: processing list, delayed set, dead list. ARGV: job as taken, job as rewritten
/// (attempts + 1, last error), delay ms (negative: dead-letter), dead-letter bound.
/// Returns 0 when the job was no longer in the processing list (a reaper returned it to
/// the queue meanwhile, so it is someone else's now), 1 when scheduled for a retry, 2
/// when dead-lettered.
pub(crate) static FAIL: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
local delay = tonumber(ARGV[3])
if delay < 0 then
  redis.call('LPUSH', KEYS[3], ARGV[2])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
  return 2
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + delay, ARGV[2])
return 1
",
    )
});

/// KEYS: delayed set, queue. ARGV: most jobs to move.
/// Moves the jobs whose retry is due to the tail of the queue. Returns how many.
pub(crate) static PROMOTE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('LPUSH', KEYS[2], job)
end
return #due
",
    )
});

/// KEYS: dead list, queue. ARGV: the dead record as stored, the fresh record.
/// Moves one dead letter back to the tail consumers take next (the record reset to no
/// attempts), if it is still among the dead: atomic, so two requeues never double it.
pub(crate) static REQUEUE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
",
    )
});
