//! The admin service's tables: the audit log and its head ([`audit`]), and the read
//! models kept from the same events ([`models`]).

pub mod audit;
pub mod entity;
pub mod migration;
pub mod models;
pub mod queries;
pub mod seed;

/// A keyset page: the first `limit` of `rows` (read with `limit + 1`, newest first), and
/// the cursor of the next page (the key of the last row shown) when there is more.
pub(crate) fn keyset<T>(
    mut rows: Vec<T>,
    limit: u64,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| rows.last().map(&key)).flatten();
    (rows, next)
}
