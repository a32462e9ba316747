//! Decoding in a separate process of the same binary (`insite decoder`): a hostile
//! recording can crash, exhaust or hang only that process, never the server. The
//! server (`parent`) streams the decrypted recording to it on request and takes back
//! 16 kHz samples into sealed tracks; the process (`child`) holds no key, cannot open a
//! network socket, and runs under memory and CPU limits. A recording that crashes its
//! decoder twice is refused as poison (`DECODER_CRASHED`).

pub mod child;
mod frames;
pub mod parent;

pub use parent::Decoder;
