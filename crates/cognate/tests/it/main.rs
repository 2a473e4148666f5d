//! Integration tests: real servers on ephemeral ports, driven over HTTP by
//! the AWS SDK for Rust and by raw requests. One test binary, so it links
//! once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod adversarial;
mod audit;
mod bootstrap;
mod boundaries;
mod bounded;
mod common;
mod console;
mod console_activity;
mod console_attack;
mod console_iam;
mod crash;
mod developer;
mod flows;
mod forward_auth;
mod iam;
mod limits;
mod multinode;
mod pools;
mod properties;
mod protocol;
mod reset;
mod saml;
mod signing;
mod sts;
mod transfer;
mod twitter;
