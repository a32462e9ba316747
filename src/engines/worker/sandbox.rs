//! The worker's sandbox: a seccomp filter that refuses network sockets, so inference
//! can never send data off the machine even if a model or library tried.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use std::collections::BTreeMap;

/// Why the sandbox could not be installed (the worker then refuses to run).
#[derive(Debug, thiserror::Error)]
#[error("cannot install the network sandbox: {0}")]
pub struct SandboxError(String);

fn err(e: impl std::fmt::Display) -> SandboxError {
    SandboxError(e.to_string())
}

/// Installs the filter for this process and its future threads: `socket()` for
/// IPv4, IPv6 and raw packet families fails with EACCES; io_uring (which could open
/// sockets without the `socket` syscall) is refused outright. Local files and
/// Unix sockets stay usable.
pub fn install() -> Result<(), SandboxError> {
    let deny_family = |family: i32| -> Result<SeccompRule, SandboxError> {
        SeccompRule::new(vec![SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            family as u64,
        )
        .map_err(err)?])
        .map_err(err)
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(
        libc::SYS_socket,
        vec![
            deny_family(libc::AF_INET)?,
            deny_family(libc::AF_INET6)?,
            deny_family(libc::AF_PACKET)?,
        ],
    );
    rules.insert(libc::SYS_io_uring_setup, vec![]);
    let arch = std::env::consts::ARCH.try_into().map_err(err)?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )
    .map_err(err)?;
    let program: BpfProgram = filter.try_into().map_err(err)?;
    seccompiler::apply_filter_all_threads(&program).map_err(err)
}
