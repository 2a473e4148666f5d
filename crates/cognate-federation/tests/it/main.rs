//! Integration tests: the verifier against the testkit fixtures over real
//! HTTP on 127.0.0.1. One test binary (each file under tests/ would be a
//! separate link).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache;
mod common;
mod fetch;
mod oidc;
mod social;
mod userpool;
