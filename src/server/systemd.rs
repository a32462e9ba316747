//! Service-manager notifications (`Type=notify`): readiness once migrations are done
//! and the listener is up, reloads, and stopping. Without `NOTIFY_SOCKET` (not under
//! systemd) nothing is sent.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1`) to the service manager, if there is one. A failure
/// is logged, never fatal: the service works the same without notifications.
pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&socket, state) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

fn send(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = socket.as_bytes();
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = path.strip_prefix(b"@") {
        // An abstract socket (Linux).
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), std::ffi::OsStr::from_bytes(path))?;
    }
    Ok(())
}
