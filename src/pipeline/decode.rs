//! Audio decoding (symphonia, pure Rust) to 16 kHz mono f32 for Whisper.

use crate::crypto::stream::OpenReader;
use rubato::{FftFixedIn, Resampler};
use std::fs::File;
use std::path::Path;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// Formats the decoder accepts, for error messages and docs.
pub const SUPPORTED: &str = "WAV (PCM, mu-law, A-law, ADPCM), MP3, FLAC, OGG Vorbis, AAC/M4A";

const TARGET_RATE: usize = 16_000;

/// Why a file could not be decoded; always says what is wrong.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("{path}: cannot read: {message}")]
    Io { path: String, message: String },
    #[error("{path}: the file is empty (0 bytes)")]
    Empty { path: String },
    #[error("{path}: not a supported audio file ({detail}); supported: {SUPPORTED}")]
    Unsupported { path: String, detail: String },
    #[error("{path}: corrupt audio: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("{path}: contains no audio samples (0 seconds)")]
    NoSamples { path: String },
}

impl DecodeError {
    /// The message without the file's path: for people who sent the file, who must not
    /// learn where the server keeps it.
    pub fn reason(&self) -> String {
        let path = match self {
            DecodeError::Io { path, .. }
            | DecodeError::Empty { path }
            | DecodeError::Unsupported { path, .. }
            | DecodeError::Corrupt { path, .. }
            | DecodeError::NoSamples { path } => path,
        };
        let text = self.to_string();
        text.strip_prefix(&format!("{path}: "))
            .map_or(text.clone(), str::to_string)
    }
}

/// Decoded audio.
#[derive(Debug, Clone)]
pub struct Audio {
    /// 16 kHz mono samples in -1..1.
    pub samples: Vec<f32>,
    pub source_rate: u32,
    pub source_channels: usize,
}

impl Audio {
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / TARGET_RATE as f64
    }
}

/// Checks quickly that a file is audio this decoder can read (container, codec, sample
/// rate, not 0 frames long), without decoding it.
pub fn probe(path: &Path) -> Result<(), DecodeError> {
    probe_input(Input::file(path)?)
}

/// `probe` for any input.
pub fn probe_input(input: Input) -> Result<(), DecodeError> {
    let shown = input.shown.clone();
    let opened = open(input)?;
    if opened.n_frames == Some(0) {
        return Err(DecodeError::NoSamples { path: shown });
    }
    Ok(())
}

/// Something to decode: a file, or a stored (decrypted) blob.
pub struct Input {
    source: Box<dyn MediaSource>,
    len: u64,
    /// How errors name it.
    shown: String,
    extension: Option<String>,
}

impl Input {
    pub fn file(path: &Path) -> Result<Input, DecodeError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| DecodeError::Io {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Input {
            source: Box::new(file),
            len,
            shown,
            extension: path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_string),
        })
    }

    /// A stored blob, decrypted as it is read.
    pub fn blob(reader: OpenReader<File>, shown: &str) -> Input {
        Input {
            len: reader.len(),
            source: Box::new(reader),
            shown: shown.to_string(),
            extension: None,
        }
    }
}

impl MediaSource for OpenReader<File> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len())
    }
}

/// An audio file opened for decoding: container, its first audio track, a decoder.
struct Opened {
    format: Box<dyn symphonia::core::formats::FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track_id: u32,
    rate: u32,
    channels: usize,
    n_frames: Option<u64>,
}

fn open(input: Input) -> Result<Opened, DecodeError> {
    let shown = input.shown;
    if input.len == 0 {
        return Err(DecodeError::Empty { path: shown });
    }
    let mss = MediaSourceStream::new(input.source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = &input.extension {
        hint.with_extension(ext);
    }
    let unsupported = |detail: String| DecodeError::Unsupported {
        path: shown.clone(),
        detail,
    };
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| unsupported(e.to_string()))?;
    let format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".into()))?;
    let rate = track
        .codec_params
        .sample_rate
        .ok_or_else(|| DecodeError::Corrupt {
            path: shown.clone(),
            detail: "no sample rate".into(),
        })?;
    let decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported(e.to_string()))?;
    Ok(Opened {
        track_id: track.id,
        rate,
        channels: track.codec_params.channels.map_or(1, |c| c.count()),
        n_frames: track.codec_params.n_frames,
        format,
        decoder,
    })
}

/// Decodes any supported file to 16 kHz mono (channels averaged).
pub fn decode_mono_16k(path: &Path) -> Result<Audio, DecodeError> {
    let tracks = decode_channels_16k(path)?;
    Ok(Audio {
        samples: tracks.mixed(),
        source_rate: tracks.source_rate,
        source_channels: tracks.source_channels,
    })
}

/// Decoded audio, one 16 kHz track per source channel.
#[derive(Debug, Clone)]
pub struct Channels {
    /// One track per channel, each 16 kHz, -1..1.
    pub channels: Vec<Vec<f32>>,
    pub source_rate: u32,
    pub source_channels: usize,
}

impl Channels {
    /// All channels averaged into one track.
    pub fn mixed(&self) -> Vec<f32> {
        let n = self.channels.len() as f32;
        let len = self.channels.iter().map(Vec::len).min().unwrap_or(0);
        (0..len)
            .map(|i| self.channels.iter().map(|c| c[i]).sum::<f32>() / n)
            .collect()
    }

    pub fn duration_secs(&self) -> f64 {
        self.channels.first().map_or(0, Vec::len) as f64 / TARGET_RATE as f64
    }
}

/// Decodes any supported file to 16 kHz, keeping each channel apart (stereo calls carry
/// one speaker per channel).
pub fn decode_channels_16k(path: &Path) -> Result<Channels, DecodeError> {
    decode_input(Input::file(path)?)
}

/// `decode_channels_16k` for any input.
pub fn decode_input(input: Input) -> Result<Channels, DecodeError> {
    let shown = input.shown.clone();
    let Opened {
        mut format,
        mut decoder,
        track_id,
        rate,
        mut channels,
        n_frames,
    } = open(input)?;
    // Reserved once when the container tells the length: a growing vector would
    // briefly hold twice an hour-long track while it reallocates.
    let reserve = n_frames
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= 16_000 * 3600 * 12)
        .unwrap_or(0);
    let mut tracks: Vec<ToTarget> = Vec::new();
    let mut frames = Vec::new();
    let mut decoded_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                return Err(DecodeError::Corrupt {
                    path: shown,
                    detail: e.to_string(),
                })
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(b) => b,
            // A damaged packet in the middle of a long call is skipped, not fatal.
            Err(SymError::DecodeError(_)) if decoded_packets > 0 => continue,
            Err(e) => {
                return Err(DecodeError::Corrupt {
                    path: shown,
                    detail: e.to_string(),
                })
            }
        };
        decoded_packets += 1;
        let spec = *buf.spec();
        channels = spec.channels.count().max(1);
        let mut sample_buf = SampleBuffer::<f32>::new(buf.capacity() as u64, spec);
        sample_buf.copy_interleaved_ref(buf);
        let corrupt = |detail: String| DecodeError::Corrupt {
            path: shown.clone(),
            detail,
        };
        while tracks.len() < channels {
            tracks.push(ToTarget::new(rate as usize, reserve).map_err(corrupt)?);
        }
        for (c, track) in tracks.iter_mut().enumerate().take(channels) {
            frames.clear();
            frames.extend(sample_buf.samples().iter().skip(c).step_by(channels));
            track.push(&frames).map_err(corrupt)?;
        }
    }
    if tracks.first().map_or(true, |t| t.consumed == 0) {
        return Err(DecodeError::NoSamples { path: shown });
    }
    let mut resampled = Vec::with_capacity(tracks.len());
    for track in tracks {
        resampled.push(track.finish().map_err(|detail| DecodeError::Corrupt {
            path: shown.clone(),
            detail,
        })?);
    }
    Ok(Channels {
        channels: resampled,
        source_rate: rate,
        source_channels: channels,
    })
}

/// Resamples mono audio to 16 kHz (FFT-based, band-limited); 16 kHz input is
/// returned as it is, without a copy.
pub fn resample(input: Vec<f32>, rate: usize) -> Result<Vec<f32>, String> {
    if rate == TARGET_RATE {
        return Ok(input);
    }
    let mut r = ToTarget::new(rate, input.len())?;
    r.push(&input)?;
    drop(input);
    r.finish()
}

/// Streaming conversion of one channel to 16 kHz: samples go in as they are decoded,
/// so the source-rate audio is never held whole beside the result.
struct ToTarget {
    rate: usize,
    resampler: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    out: Vec<f32>,
    consumed: usize,
}

/// Input samples per resampler step.
const STEP: usize = 1024;

impl ToTarget {
    /// `expected_in`: source samples expected (0 when unknown), to size the output once.
    fn new(rate: usize, expected_in: usize) -> Result<Self, String> {
        let resampler = if rate == TARGET_RATE {
            None
        } else {
            Some(FftFixedIn::<f32>::new(rate, TARGET_RATE, STEP, 2, 1).map_err(|e| e.to_string())?)
        };
        Ok(Self {
            rate,
            resampler,
            pending: Vec::with_capacity(2 * STEP),
            out: Vec::with_capacity(expected_in * TARGET_RATE / rate.max(1) + STEP),
            consumed: 0,
        })
    }

    fn push(&mut self, samples: &[f32]) -> Result<(), String> {
        self.consumed += samples.len();
        let Some(r) = self.resampler.as_mut() else {
            self.out.extend_from_slice(samples);
            return Ok(());
        };
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (STEP - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == STEP {
                let block = r
                    .process(&[&self.pending[..]], None)
                    .map_err(|e| e.to_string())?;
                self.out.extend_from_slice(&block[0]);
                self.pending.clear();
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<f32>, String> {
        let Some(mut r) = self.resampler.take() else {
            return Ok(self.out);
        };
        let tail = r
            .process_partial(Some(&[&self.pending[..]]), None)
            .map_err(|e| e.to_string())?;
        self.out.extend_from_slice(&tail[0]);
        // Flush the resampler's delay line, then trim to the exact expected length.
        let flush = r
            .process_partial::<&[f32]>(None, None)
            .map_err(|e| e.to_string())?;
        self.out.extend_from_slice(&flush[0]);
        let delay = r.output_delay();
        let expected = self.consumed * TARGET_RATE / self.rate;
        let end = (delay + expected).min(self.out.len());
        self.out.truncate(end);
        self.out.drain(..delay.min(end));
        Ok(self.out)
    }
}
