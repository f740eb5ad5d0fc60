//! Stored notifications: events in, listed, counted, read.
