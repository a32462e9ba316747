//! Audio decoding (symphonia, pure Rust) to 16 kHz mono f32 for Whisper.

pub use super::resample::Sink;
use super::resample::{Fault, ToTarget, STEP};
use super::track::{Track, TrackWriter};
use crate::crypto::stream::OpenReader;
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

pub(super) const TARGET_RATE: usize = 16_000;

/// Source sample rates a recording may declare: telephony's 8 kHz and below down to
/// 2 kHz, up to studio 384 kHz. Outside, the header is refused before anything is
/// sized from it (a rate sizes the resampler; 2^31 Hz asked for gigabytes).
pub const RATES: std::ops::RangeInclusive<u32> = 2_000..=384_000;

/// Channels a recording may declare (each becomes a track on disk).
pub const MAX_CHANNELS: usize = 16;

/// Audio frames one decoded packet may hold (about 10 s at 384 kHz): a header that asks
/// for more is lying, and the buffer is sized from it.
const MAX_PACKET_FRAMES: usize = 1 << 22;

/// The longest recording decoded unless the caller says otherwise (4 hours), as
/// `pipeline.max_duration_seconds` defaults.
pub const DEFAULT_MAX_SECONDS: u64 = 4 * 3600;

/// Why a file could not be decoded; always says what is wrong.
#[derive(Debug, Clone, thiserror::Error, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
    #[error(
        "{path}: the recording is longer than the {max} s allowed (pipeline.max_duration_seconds)"
    )]
    TooLong { path: String, max: u64 },
    #[error("{path}: the decoder process failed on this file ({detail}); not retried")]
    Crashed { path: String, detail: String },
}

impl DecodeError {
    /// The message without the file's path: for people who sent the file, who must not
    /// learn where the server keeps it.
    pub fn reason(&self) -> String {
        let path = std::mem::take(self.clone().path_mut());
        let text = self.to_string();
        text.strip_prefix(&format!("{path}: "))
            .map_or(text.clone(), str::to_string)
    }

    fn path_mut(&mut self) -> &mut String {
        match self {
            DecodeError::Io { path, .. }
            | DecodeError::Empty { path }
            | DecodeError::Unsupported { path, .. }
            | DecodeError::Corrupt { path, .. }
            | DecodeError::NoSamples { path }
            | DecodeError::TooLong { path, .. }
            | DecodeError::Crashed { path, .. } => path,
        }
    }

    /// The same error naming the file as `shown` (a decoder process names what it was
    /// given generically).
    pub fn with_path(mut self, shown: &str) -> DecodeError {
        *self.path_mut() = shown.to_string();
        self
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
    pub(in crate::pipeline) source: Box<dyn MediaSource>,
    pub(in crate::pipeline) len: u64,
    /// How errors name it.
    pub(in crate::pipeline) shown: String,
    pub(in crate::pipeline) extension: Option<String>,
    /// The longest audio decoded from it, in seconds.
    pub(in crate::pipeline) max_seconds: u64,
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
            max_seconds: DEFAULT_MAX_SECONDS,
        })
    }

    /// A stored blob, decrypted as it is read.
    pub fn blob(reader: OpenReader<File>, shown: &str) -> Input {
        Input {
            len: reader.len(),
            source: Box::new(reader),
            shown: shown.to_string(),
            extension: None,
            max_seconds: DEFAULT_MAX_SECONDS,
        }
    }

    /// Any seekable source of `len` bytes (a decoder process's pipe to the server).
    pub fn stream(
        source: Box<dyn MediaSource>,
        len: u64,
        shown: &str,
        extension: Option<String>,
    ) -> Input {
        Input {
            source,
            len,
            shown: shown.to_string(),
            extension,
            max_seconds: DEFAULT_MAX_SECONDS,
        }
    }

    /// Refuses (`TooLong`) audio longer than `seconds`, declared or decoded.
    pub fn max_seconds(mut self, seconds: u64) -> Input {
        self.max_seconds = seconds;
        self
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
    max_seconds: u64,
}

/// A panic inside the decoding library on a hostile file becomes `Corrupt` for that file:
/// the thread (the watched folder's, a processing thread) lives on.
fn guarded<T>(shown: &str, f: impl FnOnce() -> Result<T, DecodeError>) -> Result<T, DecodeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(DecodeError::Corrupt {
            path: shown.to_string(),
            detail: "the decoder could not read this file's structure".into(),
        })
    })
}

fn open(input: Input) -> Result<Opened, DecodeError> {
    let shown = input.shown.clone();
    guarded(&shown, || open_unguarded(input))
}

fn open_unguarded(input: Input) -> Result<Opened, DecodeError> {
    let shown = input.shown;
    let max_seconds = input.max_seconds;
    let byte_len = input.len;
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
    if !RATES.contains(&rate) {
        return Err(unsupported(format!(
            "a sample rate of {rate} Hz; accepted: {} to {} Hz",
            RATES.start(),
            RATES.end()
        )));
    }
    let channels = track.codec_params.channels.map_or(1, |c| c.count());
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(unsupported(format!(
            "{channels} channels; accepted: 1 to {MAX_CHANNELS}"
        )));
    }
    // A declared length the file's bytes cannot hold is a placeholder (recorders that
    // stream write 0xFFFFFFFF) or a lie: ignored, the decoded length is checked instead.
    let bits = track
        .codec_params
        .bits_per_coded_sample
        .or(track.codec_params.bits_per_sample);
    let n_frames = track.codec_params.n_frames.filter(|&n| {
        bits.map_or(true, |b| {
            n.saturating_mul(channels as u64)
                .saturating_mul(u64::from(b))
                / 8
                <= byte_len
        })
    });
    if n_frames.is_some_and(|n| n > max_seconds.saturating_mul(u64::from(rate))) {
        return Err(DecodeError::TooLong {
            path: shown,
            max: max_seconds,
        });
    }
    let decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported(e.to_string()))?;
    Ok(Opened {
        track_id: track.id,
        rate,
        channels,
        n_frames,
        format,
        decoder,
        max_seconds,
    })
}

/// Decodes any supported file to 16 kHz mono (channels averaged).
pub fn decode_mono_16k(path: &Path) -> Result<Audio, DecodeError> {
    decode_mono_input(Input::file(path)?)
}

/// `decode_mono_16k` for any input.
pub fn decode_mono_input(input: Input) -> Result<Audio, DecodeError> {
    let tracks = decode_input(input)?;
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
    let (channels, source_rate, source_channels) =
        decode_into(input, |expected| Ok(Vec::with_capacity(expected)))?;
    Ok(Channels {
        channels,
        source_rate,
        source_channels,
    })
}

/// Decoded audio kept on disk, a track per channel (see `track`): what the pipeline
/// uses, so an hours-long recording never sits whole in memory.
pub struct Tracks {
    pub tracks: Vec<Track>,
    pub source_rate: u32,
    pub source_channels: usize,
}

impl Tracks {
    pub fn duration_secs(&self) -> f64 {
        self.tracks.first().map_or(0.0, Track::duration_secs)
    }
}

/// Decodes any input to 16 kHz tracks in `dir`, one per channel.
pub fn decode_to_tracks(input: Input, dir: &Path) -> Result<Tracks, DecodeError> {
    let (tracks, source_rate, source_channels) = decode_into(input, |_| TrackWriter::create(dir))?;
    Ok(Tracks {
        tracks,
        source_rate,
        source_channels,
    })
}

/// Decodes, converting each channel to 16 kHz into a sink made by `make` (given the
/// number of output samples expected, 0 when the container does not say). Returns the
/// finished sinks, the source rate and the source channel count.
pub fn decode_into<S: Sink>(
    input: Input,
    make: impl FnMut(usize) -> std::io::Result<S>,
) -> Result<(Vec<S::Done>, u32, usize), DecodeError> {
    let shown = input.shown.clone();
    let opened = open(input)?;
    guarded(&shown, || convert(opened, &shown, make))
}

/// The decoding loop of `decode_into`, on a file `open` found plausible.
fn convert<S: Sink>(
    opened: Opened,
    shown: &str,
    mut make: impl FnMut(usize) -> std::io::Result<S>,
) -> Result<(Vec<S::Done>, u32, usize), DecodeError> {
    let shown = shown.to_string();
    let Opened {
        mut format,
        mut decoder,
        track_id,
        rate,
        mut channels,
        n_frames,
        max_seconds,
    } = opened;
    // Reserved once when the container tells the length: a growing vector would
    // briefly hold twice an hour-long track while it reallocates. `open` refused a
    // declared length over the limit, so this is bounded by it.
    // At most an hour is reserved, whatever the header says.
    let expected = n_frames
        .and_then(|n| usize::try_from(n).ok())
        .map_or(0, |n| n * TARGET_RATE / rate as usize + STEP)
        .min(TARGET_RATE * 3600);
    // A header may under-declare (or not declare) the length: the decoded length is
    // what counts, checked as the audio comes.
    let max_frames = max_seconds.saturating_mul(u64::from(rate));
    let mut tracks: Vec<ToTarget<S>> = Vec::new();
    let mut frames = Vec::new();
    let mut decoded_packets = 0usize;
    let corrupt = |detail: String| DecodeError::Corrupt {
        path: shown.clone(),
        detail,
    };
    let fault = |f: Fault| f.into_error(&shown);
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(b) => b,
            // A damaged packet in the middle of a long call is skipped, not fatal.
            Err(SymError::DecodeError(_)) if decoded_packets > 0 => continue,
            Err(e) => return Err(corrupt(e.to_string())),
        };
        decoded_packets += 1;
        if buf.capacity() > MAX_PACKET_FRAMES {
            return Err(corrupt(format!(
                "a packet of {} frames; at most {MAX_PACKET_FRAMES} are read",
                buf.capacity()
            )));
        }
        let spec = *buf.spec();
        channels = spec.channels.count().max(1);
        if channels > MAX_CHANNELS {
            return Err(corrupt(format!(
                "a packet of {channels} channels; accepted: 1 to {MAX_CHANNELS}"
            )));
        }
        let mut sample_buf = SampleBuffer::<f32>::new(buf.capacity() as u64, spec);
        sample_buf.copy_interleaved_ref(buf);
        while tracks.len() < channels {
            let sink = make(expected).map_err(|e| fault(Fault::Sink(e)))?;
            tracks.push(ToTarget::new(rate as usize, sink).map_err(fault)?);
        }
        for (c, track) in tracks.iter_mut().enumerate().take(channels) {
            frames.clear();
            frames.extend(sample_buf.samples().iter().skip(c).step_by(channels));
            track.push(&frames).map_err(fault)?;
        }
        if tracks.first().map_or(0, |t| t.consumed as u64) > max_frames {
            return Err(DecodeError::TooLong {
                path: shown.clone(),
                max: max_seconds,
            });
        }
    }
    if tracks.first().map_or(true, |t| t.consumed == 0) {
        return Err(DecodeError::NoSamples { path: shown });
    }
    let mut done = Vec::with_capacity(tracks.len());
    for track in tracks {
        done.push(track.finish().map_err(fault)?);
    }
    Ok((done, rate, channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit PCM WAV of interleaved `samples` at `rate`.
    fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        let frames = samples.len() / usize::from(channels);
        crate::pipeline::redact_audio::wav_header(&mut out, rate, channels, frames).unwrap();
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    #[test]
    fn tracks_on_disk_hold_the_same_16k_audio_without_resampler_delay() {
        let dir = tempfile::tempdir().unwrap();
        let rate = 44_100u32;
        let tone =
            |i: usize, r: f64| 0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / r).sin();
        let frames: Vec<i16> = (0..rate as usize * 5 / 2)
            .flat_map(|i| [(tone(i, rate as f64) * 32767.0) as i16, 0])
            .collect();
        let path = dir.path().join("a.wav");
        std::fs::write(&path, wav(rate, 2, &frames)).unwrap();
        let in_memory = decode_channels_16k(&path).unwrap();
        let scratch = dir.path().join("scratch");
        let mut on_disk = decode_to_tracks(Input::file(&path).unwrap(), &scratch).unwrap();
        assert_eq!((on_disk.source_rate, on_disk.source_channels), (rate, 2));
        assert_eq!(on_disk.tracks.len(), 2);
        assert_eq!(in_memory.channels[0].len(), 40_000);
        for (track, want) in on_disk.tracks.iter_mut().zip(&in_memory.channels) {
            let mut got = Vec::new();
            track.read_into(0, usize::MAX, &mut got).unwrap();
            assert_eq!(&got, want);
        }
        // In step with the source: no delay from the resampler.
        let left = &in_memory.channels[0];
        let worst = (1_000..39_000)
            .map(|i| (f64::from(left[i]) - tone(i, 16_000.0)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 0.01, "{worst}");
    }
}
