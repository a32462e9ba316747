//! The wire between the server and a decoder process: frames of a one-byte tag, a
//! little-endian u32 length and the payload, on the child's stdin and stdout.

use super::super::decode::DecodeError;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// The largest payload either side accepts; a longer frame is a broken peer.
pub const MAX_FRAME: usize = 4 << 20;

/// The most bytes the decoder asks for at once.
pub const MAX_READ: u32 = 1 << 20;

/// What the decoder found, sent once when it has finished.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub source_rate: u32,
    pub source_channels: usize,
    /// Output tracks sent (0 for a probe).
    pub tracks: usize,
}

/// A frame from the decoder.
#[derive(Debug, PartialEq)]
pub enum FromChild {
    /// Bytes `offset..offset+len` of the recording, please.
    Read {
        offset: u64,
        len: u32,
    },
    /// 16 kHz samples of one output channel (raw little-endian f32).
    Samples {
        channel: u8,
        bytes: Vec<u8>,
    },
    Done(Summary),
    Failed(DecodeError),
}

const READ: u8 = b'R';
const SAMPLES: u8 = b'S';
const DONE: u8 = b'F';
const FAILED: u8 = b'E';
const DATA: u8 = b'D';

fn write_frame(out: &mut impl Write, tag: u8, parts: &[&[u8]]) -> io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let len = u32::try_from(len).map_err(io::Error::other)?;
    out.write_all(&[tag])?;
    out.write_all(&len.to_le_bytes())?;
    for p in parts {
        out.write_all(p)?;
    }
    out.flush()
}

fn read_frame(input: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    input.read_exact(&mut head)?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes"),
        ));
    }
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok((head[0], payload))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl FromChild {
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        match self {
            FromChild::Read { offset, len } => {
                write_frame(out, READ, &[&offset.to_le_bytes(), &len.to_le_bytes()])
            }
            FromChild::Samples { channel, bytes } => {
                write_frame(out, SAMPLES, &[&[*channel], bytes])
            }
            FromChild::Done(s) => write_frame(
                out,
                DONE,
                &[&serde_json::to_vec(s).map_err(io::Error::other)?],
            ),
            FromChild::Failed(e) => write_frame(
                out,
                FAILED,
                &[&serde_json::to_vec(e).map_err(io::Error::other)?],
            ),
        }
    }

    /// The next frame; anything malformed is an error (the peer is not trusted).
    pub fn read(input: &mut impl Read) -> io::Result<FromChild> {
        let (tag, payload) = read_frame(input)?;
        match tag {
            READ if payload.len() == 12 => {
                let mut offset = [0u8; 8];
                offset.copy_from_slice(&payload[..8]);
                let mut len = [0u8; 4];
                len.copy_from_slice(&payload[8..]);
                Ok(FromChild::Read {
                    offset: u64::from_le_bytes(offset),
                    len: u32::from_le_bytes(len),
                })
            }
            SAMPLES if !payload.is_empty() && (payload.len() - 1) % 4 == 0 => {
                Ok(FromChild::Samples {
                    channel: payload[0],
                    bytes: payload[1..].to_vec(),
                })
            }
            DONE => serde_json::from_slice(&payload)
                .map(FromChild::Done)
                .map_err(|_| invalid("a malformed summary")),
            FAILED => serde_json::from_slice(&payload)
                .map(FromChild::Failed)
                .map_err(|_| invalid("a malformed error")),
            _ => Err(invalid("an unknown frame")),
        }
    }
}

/// Recording bytes for the decoder (empty: past the end).
pub fn write_data(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    write_frame(out, DATA, &[bytes])
}

pub fn read_data(input: &mut impl Read) -> io::Result<Vec<u8>> {
    match read_frame(input)? {
        (DATA, payload) => Ok(payload),
        _ => Err(invalid("expected recording bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_malformed_ones_are_refused() {
        let frames = [
            FromChild::Read {
                offset: 1 << 40,
                len: 7,
            },
            FromChild::Samples {
                channel: 1,
                bytes: vec![0, 0, 128, 63],
            },
            FromChild::Done(Summary {
                source_rate: 8000,
                source_channels: 2,
                tracks: 2,
            }),
            FromChild::Failed(DecodeError::Empty {
                path: "recording".into(),
            }),
        ];
        let mut wire = Vec::new();
        for f in &frames {
            f.write(&mut wire).unwrap();
        }
        let mut input = &wire[..];
        for f in frames {
            assert_eq!(FromChild::read(&mut input).unwrap(), f);
        }
        // A length over the limit, an unknown tag, samples that are not whole f32s.
        let mut huge = vec![SAMPLES];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(FromChild::read(&mut &huge[..]).is_err());
        assert!(FromChild::read(&mut &[b'Z', 0, 0, 0, 0][..]).is_err());
        assert!(FromChild::read(&mut &[SAMPLES, 3, 0, 0, 0, 0, 1, 2][..]).is_err());
    }
}
