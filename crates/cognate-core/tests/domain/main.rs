//! The domain's rules, tested in-process against a real store: linking and
//! merging, role mapping, developer identities. The wire tests
//! (`crates/cognate/tests/it`) keep what needs HTTP, signatures, real
//! token issuers and real clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config_cache;
mod developer;
mod harness;
mod linking;
mod role_mapping;
mod trust;
