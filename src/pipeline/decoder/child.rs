//! `insite decoder`: one recording decoded in a process of its own. It asks the server
//! for the recording's bytes as the decoding library reads them (so containers that
//! seek, like M4A, work without a copy on disk), sends 16 kHz samples back, and ends.
//! Before it reads a byte it limits its own memory, CPU time and files, and installs
//! the network sandbox of the inference workers.

use super::frames::{read_data, FromChild, Summary, MAX_READ};
use crate::engines::worker::protocol::samples_to_bytes;
use crate::pipeline::decode::{self, Input, Sink};
use std::io::{self, Read, Seek, SeekFrom};
use symphonia::core::io::MediaSource;

/// What the server asks of the decoder (its command line).
#[derive(Debug, Clone, clap::Args)]
pub struct DecoderArgs {
    /// The server: when it is gone, the decoder ends.
    #[arg(long, value_name = "PID")]
    pub parent: Option<u32>,
    /// The recording's length in bytes.
    #[arg(long)]
    pub len: u64,
    /// The file name's extension, a hint to the container probe.
    #[arg(long)]
    pub extension: Option<String>,
    #[arg(long)]
    pub max_seconds: u64,
    /// The address space this process may use (`pipeline.decoder_memory_mb`).
    #[arg(long)]
    pub memory_mb: u64,
    /// Only check the header (container, codec, rate, channels, declared length).
    #[arg(long)]
    pub probe: bool,
}

/// How the decoder names the recording in errors (the server puts its own name back).
const SHOWN: &str = "recording";

/// CPU seconds a decoder may use for `max_seconds` of audio: decoding runs far faster
/// than real time, so a decoder still busy after this is stuck in a hostile file.
fn cpu_seconds(max_seconds: u64) -> u64 {
    60 + max_seconds / 4
}

fn limit(args: &DecoderArgs) -> Result<(), String> {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let set = |resource: Resource, value: u64, what: &str| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(value),
                maximum: Some(value),
            },
        )
        .map_err(|e| format!("cannot limit the decoder's {what}: {e}"))
    };
    set(
        Resource::As,
        args.memory_mb.saturating_mul(1 << 20),
        "memory",
    )?;
    set(Resource::Cpu, cpu_seconds(args.max_seconds), "CPU time")?;
    // It writes no file and opens none beyond its pipes.
    set(Resource::Fsize, 0, "file size")?;
    set(Resource::Nofile, 16, "open files")
}

/// Runs the decoder on its stdin and stdout. An `Err` ends the process with a message.
pub fn run(args: &DecoderArgs) -> Result<(), String> {
    crate::engines::worker::child::exit_with_parent(args.parent);
    limit(args)?;
    crate::engines::worker::sandbox::install().map_err(|e| e.to_string())?;
    let source = PipeSource {
        pos: 0,
        len: args.len,
    };
    let input = Input::stream(Box::new(source), args.len, SHOWN, args.extension.clone())
        .max_seconds(args.max_seconds);
    let result = if args.probe {
        decode::probe_input(input).map(|()| Summary {
            source_rate: 0,
            source_channels: 0,
            tracks: 0,
        })
    } else {
        let mut next = 0u8;
        decode::decode_into(input, |_| {
            let sink = PipeSink {
                channel: next,
                buf: Vec::new(),
            };
            next = next.saturating_add(1);
            Ok(sink)
        })
        .map(|(done, source_rate, source_channels)| Summary {
            source_rate,
            source_channels,
            tracks: done.len(),
        })
    };
    let frame = match result {
        Ok(summary) => FromChild::Done(summary),
        Err(e) => FromChild::Failed(e),
    };
    frame
        .write(&mut io::stdout().lock())
        .map_err(|e| format!("cannot answer the server: {e}"))
}

/// The recording, read from the server on demand.
struct PipeSource {
    pos: u64,
    len: u64,
}

impl Read for PipeSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(MAX_READ as usize);
        FromChild::Read {
            offset: self.pos,
            len: want as u32,
        }
        .write(&mut io::stdout().lock())?;
        let data = read_data(&mut io::stdin().lock())?;
        if data.len() > want {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the server sent more than asked",
            ));
        }
        buf[..data.len()].copy_from_slice(&data);
        self.pos += data.len() as u64;
        Ok(data.len())
    }
}

impl Seek for PipeSource {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

impl MediaSource for PipeSource {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// Samples sent on in blocks of this many bytes (16,384 samples, about 1 s).
const BLOCK_BYTES: usize = 64 * 1024;

/// One output channel, sent to the server as it is decoded.
struct PipeSink {
    channel: u8,
    buf: Vec<u8>,
}

impl PipeSink {
    fn send(&mut self, n: usize) -> io::Result<()> {
        let bytes: Vec<u8> = self.buf.drain(..n).collect();
        FromChild::Samples {
            channel: self.channel,
            bytes,
        }
        .write(&mut io::stdout().lock())
    }
}

impl Sink for PipeSink {
    type Done = ();

    fn push(&mut self, samples: &[f32]) -> io::Result<()> {
        samples_to_bytes(samples, &mut self.buf);
        while self.buf.len() >= BLOCK_BYTES {
            self.send(BLOCK_BYTES)?;
        }
        Ok(())
    }

    fn done(mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.send(self.buf.len())?;
        }
        Ok(())
    }
}
