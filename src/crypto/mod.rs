//! Cryptographic building blocks: password hashing, random tokens.

pub mod aead;
pub mod password;
pub mod stream;
pub mod token;
pub mod totp;
