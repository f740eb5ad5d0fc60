//! What can go wrong in the admin service, in its own words (routes map these to
//! problems in one place: `routes/mod.rs`).

/// An admin operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Another appender moved the audit chain's head between this one's read and its
    /// update: the transaction rolls back and the event is retried (the guard that
    /// keeps two instances from forking the chain).
    #[error("the audit chain's head moved while this event was appended; retried")]
    HeadMoved,
    /// The head copied outside the database (Redis `audit:head`) cannot be read, so
    /// the chain cannot be checked against it.
    #[error("cannot read the head copied outside the database (audit:head): {0}")]
    CopyUnreadable(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}
