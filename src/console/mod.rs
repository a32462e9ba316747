//! The server-rendered web console: pages compiled into the binary, strict security
//! headers, no scripts. So far: the page behind invitation and setup links.

mod html;
mod invite;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    invite::configure(cfg);
}
