//! The server's side of a decoder process: starts `insite decoder` for one recording,
//! answers its reads from the (decrypted) recording, writes the samples it sends into
//! sealed tracks, and turns its death into an error for that recording alone.

use super::frames::{write_data, FromChild, Summary, MAX_READ};
use crate::engines::worker::protocol::samples_from_bytes;
use crate::pipeline::decode::{DecodeError, Input, Tracks, MAX_CHANNELS, TARGET_RATE};
use crate::pipeline::track::TrackWriter;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The smallest and largest `pipeline.decoder_memory_mb`.
pub const MEMORY_MB: std::ops::RangeInclusive<u64> = 256..=65_536;

/// Starts decoder processes.
#[derive(Debug, Clone)]
pub struct Decoder {
    exe: PathBuf,
    memory_mb: u64,
}

/// Takes one channel's samples as they come, and `None` before a new attempt (what
/// the last one sent is void).
type OnSamples<'f> = dyn FnMut(Option<(u8, &[u8])>) -> io::Result<()> + 'f;

/// How one attempt ended short of a result.
enum Attempt {
    /// The process died or broke the protocol: tried once more, then poison.
    Crashed(String),
    /// A clean answer about the recording (or a fault of this machine).
    Failed(DecodeError),
}

impl Decoder {
    pub fn new(exe: PathBuf, memory_mb: u64) -> Self {
        Self { exe, memory_mb }
    }

    /// The decoder of this configuration: the inference workers' executable (this one
    /// unless `engines.worker_exe` says otherwise) under `pipeline.decoder_memory_mb`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let exe = match &config.engines.worker_exe {
            Some(p) => p.clone(),
            // In the started process, this names the server's own executable.
            None => std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe")),
        };
        Self::new(exe, config.pipeline.decoder_memory_mb)
    }

    /// `decode::probe_input` in a decoder process: container, codec, rate, channels and
    /// declared length checked without decoding.
    pub fn probe(&self, mut input: Input) -> Result<(), DecodeError> {
        self.retrying(&mut input, true, &mut |_| {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "samples from a probe",
            ))
        })
        .map(|_| ())
    }

    /// `decode::decode_to_tracks` in a decoder process: a sealed 16 kHz track in `dir`
    /// per channel.
    pub fn decode_to_tracks(&self, mut input: Input, dir: &Path) -> Result<Tracks, DecodeError> {
        let most = input
            .max_seconds
            .saturating_add(1)
            .saturating_mul(TARGET_RATE as u64);
        let mut writers: Vec<(TrackWriter, u64)> = Vec::new();
        let mut samples = Vec::new();
        let summary = self.retrying(&mut input, false, &mut |received| {
            // A new attempt starts over.
            let Some((channel, bytes)) = received else {
                writers.clear();
                return Ok(());
            };
            let channel = usize::from(channel);
            if channel >= MAX_CHANNELS {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("samples for channel {channel}"),
                ));
            }
            while writers.len() <= channel {
                writers.push((TrackWriter::create(dir)?, 0));
            }
            let (writer, count) = &mut writers[channel];
            samples.clear();
            // Whatever the process sends, what goes on is audio in range.
            samples.extend(samples_from_bytes(bytes).map(|s| if s.is_finite() { s } else { 0.0 }));
            *count += samples.len() as u64;
            if *count > most {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "more samples than the longest recording allowed",
                ));
            }
            writer.push(&samples)
        })?;
        if writers.len() != summary.tracks || writers.is_empty() {
            return Err(DecodeError::Crashed {
                path: input.shown.clone(),
                detail: format!(
                    "it broke the protocol: it announced {} tracks and sent {}",
                    summary.tracks,
                    writers.len()
                ),
            });
        }
        let mut tracks = Vec::with_capacity(writers.len());
        for (writer, _) in writers {
            tracks.push(writer.finish().map_err(|e| DecodeError::Io {
                path: input.shown.clone(),
                message: format!("scratch space for decoded audio: {e}"),
            })?);
        }
        Ok(Tracks {
            tracks,
            source_rate: summary.source_rate,
            source_channels: summary.source_channels,
        })
    }

    /// Runs attempts until one answers; a second crash is final (`Crashed`).
    fn retrying(
        &self,
        input: &mut Input,
        probe: bool,
        on_samples: &mut OnSamples,
    ) -> Result<Summary, DecodeError> {
        let mut crashes: Vec<String> = Vec::new();
        loop {
            if !crashes.is_empty() {
                on_samples(None).map_err(|e| DecodeError::Io {
                    path: input.shown.clone(),
                    message: e.to_string(),
                })?;
            }
            match self.attempt(input, probe, on_samples) {
                Ok(summary) => return Ok(summary),
                Err(Attempt::Failed(e)) => return Err(e.with_path(&input.shown)),
                Err(Attempt::Crashed(reason)) => {
                    tracing::error!(%reason, attempt = crashes.len() + 1, recording = %input.shown, "decoder died on a recording");
                    crashes.push(reason);
                    if crashes.len() == 2 {
                        return Err(DecodeError::Crashed {
                            path: input.shown.clone(),
                            detail: format!("tried twice: {}", crashes.join("; then ")),
                        });
                    }
                }
            }
        }
    }

    fn command(&self, input: &Input, probe: bool) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("decoder")
            .arg("--parent")
            .arg(std::process::id().to_string())
            .arg("--len")
            .arg(input.len.to_string())
            .arg("--max-seconds")
            .arg(input.max_seconds.to_string())
            .arg("--memory-mb")
            .arg(self.memory_mb.to_string());
        // The extension is a hint from a file name: passed only when it is one.
        if let Some(ext) = input.extension.as_ref().filter(|e| {
            !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric())
        }) {
            cmd.arg("--extension").arg(ext);
        }
        if probe {
            cmd.arg("--probe");
        }
        // Nothing of the server's environment (secrets may be in it) reaches it.
        cmd.env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn attempt(
        &self,
        input: &mut Input,
        probe: bool,
        on_samples: &mut OnSamples,
    ) -> Result<Summary, Attempt> {
        let mut child = self.command(input, probe).spawn().map_err(|e| {
            Attempt::Failed(DecodeError::Io {
                path: input.shown.clone(),
                message: format!("cannot start the decoder {}: {e}", self.exe.display()),
            })
        })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            end(&mut child, false);
            return Err(Attempt::Crashed("its pipes are missing".into()));
        };
        let (said_tx, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || said_tx.send(last_line(stderr)));
        let mut stdout = BufReader::new(stdout);
        let mut chunk = Vec::new();
        let outcome = loop {
            let frame = match FromChild::read(&mut stdout) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break Err(None),
                Err(e) => break Err(Some(format!("it sent {e}"))),
            };
            match frame {
                FromChild::Read { offset, len } => {
                    if len > MAX_READ {
                        break Err(Some(format!("it asked for {len} bytes at once")));
                    }
                    if let Err(e) = read_at(&mut input.source, offset, len, &mut chunk) {
                        break Ok(Err(DecodeError::Corrupt {
                            path: input.shown.clone(),
                            detail: format!("the stored recording cannot be read: {e}"),
                        }));
                    }
                    if write_data(&mut stdin, &chunk).is_err() {
                        break Err(None);
                    }
                }
                FromChild::Samples { channel, bytes } => {
                    if let Err(e) = on_samples(Some((channel, &bytes))) {
                        break match e.kind() {
                            io::ErrorKind::InvalidData => Err(Some(e.to_string())),
                            _ => Ok(Err(DecodeError::Io {
                                path: input.shown.clone(),
                                message: format!("scratch space for decoded audio: {e}"),
                            })),
                        };
                    }
                }
                FromChild::Done(summary) => break Ok(Ok(summary)),
                FromChild::Failed(e) => break Ok(Err(e)),
            }
        };
        drop(stdin);
        // A process that answered or closed its output is ending: its own status says
        // why (a panic's, an abort's). One that broke the protocol is stopped.
        let status = end(&mut child, !matches!(outcome, Err(Some(_))));
        // Its last words, unless something it started keeps its stderr open.
        let said = said
            .recv_timeout(std::time::Duration::from_secs(1))
            .unwrap_or_default();
        match outcome {
            Ok(Ok(summary)) => Ok(summary),
            Ok(Err(e)) => Err(Attempt::Failed(e)),
            Err(broke) => {
                let what = broke.unwrap_or(status);
                Err(Attempt::Crashed(if said.is_empty() {
                    what
                } else {
                    format!("{what}: {said}")
                }))
            }
        }
    }
}

/// Reads `len` bytes at `offset` (fewer at the end) into `out`.
fn read_at(
    source: &mut (impl Read + Seek),
    offset: u64,
    len: u32,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    out.clear();
    source.seek(SeekFrom::Start(offset))?;
    source.take(u64::from(len)).read_to_end(out)?;
    Ok(())
}

/// Says how the process ended; stopped first unless `ending` (then given 5 s).
fn end(child: &mut Child, ending: bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while ending && std::time::Instant::now() < deadline {
        match child.try_wait() {
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
            _ => break,
        }
    }
    let _ = child.kill();
    match child.wait() {
        Ok(s) => match (s.code(), s.signal()) {
            (_, Some(9)) => "the decoder was killed (SIGKILL)".into(),
            (_, Some(sig)) => format!("the decoder died of signal {sig}"),
            (Some(0), _) => "the decoder ended without an answer".into(),
            (Some(code), _) => format!("the decoder exited with status {code}"),
            _ => "the decoder ended".into(),
        },
        Err(e) => format!("the decoder's end is unknown: {e}"),
    }
}

/// The last line a process wrote on stderr (at most 500 characters are kept).
fn last_line(stderr: impl Read) -> String {
    use std::io::BufRead;
    let mut last = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if !line.trim().is_empty() {
            last = line.chars().take(500).collect();
        }
    }
    last
}
