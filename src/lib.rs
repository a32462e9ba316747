//! insite: on-premises conversation intelligence. The library behind the `insite` binary.

pub mod api;
pub mod clock;
pub mod commands;
pub mod config;
pub mod logging;
pub mod server;
pub mod store;

pub use server::{run, Started};
