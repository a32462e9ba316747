//! Cryptographic building blocks: password hashing, random tokens.

pub mod password;
pub mod token;
pub mod totp;
