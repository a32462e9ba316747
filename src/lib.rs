//! insite: on-premises conversation intelligence. The library behind the `insite` binary.

pub mod api;
pub mod audit;
pub mod backup;
pub mod blob;
pub mod clock;
pub mod commands;
pub mod config;
pub mod console;
pub mod crypto;
pub mod domain;
pub mod engines;
pub mod identity;
pub mod integrations;
pub mod keys;
pub mod logging;
pub mod pipeline;
pub mod privacy;
pub mod server;
pub mod store;
pub mod supervision;

pub use server::{run, Started};
