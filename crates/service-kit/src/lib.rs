//! The service kit: the machinery every Vestio service runs, so that a service's own code
//! is its domain. `common` keeps the contracts (events, Redis names, JWT validation); this
//! crate grows the machinery (issue 16). First piece: [`cli`], the one `main` of every
//! service binary.

pub mod cli;
