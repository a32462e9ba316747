//! insite: on-premises conversation intelligence. The library behind the `insite` binary.

pub mod api;
pub mod clock;
pub mod commands;
pub mod config;
pub mod engines;
pub mod logging;
pub mod pipeline;
pub mod server;
pub mod store;

pub use server::{run, Started};
