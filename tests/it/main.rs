//! All integration tests, in one binary so linking happens once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analysis;
mod cli_errors;
mod console;
mod console_integrations;
mod console_privacy;
mod encryption;
mod engines;
mod example_config;
mod fake_saas;
mod fake_smtp;
mod fake_stores;
mod http_basics;
mod identity;
mod integrations;
mod invites;
mod migrations;
mod pipeline;
mod retention;
mod routes;
mod service;
mod shutdown;
mod storage;
mod support;
mod tls;
mod webdriver;
