//! Chunked AES-256-GCM for large objects (recordings, raw integration data), so they
//! are written and read as streams, never whole in memory.
//!
//! Layout: `INSITEB1` ‖ key version (u32 BE) ‖ chunks. Every chunk holds 64 KiB of
//! plaintext (the last one 0..=64 KiB) as nonce ‖ ciphertext ‖ tag, with a random
//! nonce. Its associated data names the object, the key version, the chunk's index
//! and whether it is the last, so chunks cannot be reordered, dropped, moved between
//! objects or the object cut short without the read failing.

use super::aead::{open_bytes, seal_bytes};
use ring::aead::LessSafeKey;
use std::io::{self, Read, Seek, SeekFrom, Write};

const MAGIC: &[u8; 8] = b"INSITEB1";

/// Context of a job's scratch files (decoded audio, engine windows), sealed under keys
/// that exist only in the memory of the job and of the worker it hands them to.
pub const SCRATCH: &str = "scratch.samples";

/// Reads a whole scratch file sealed under the hex key `key_hex` (version 1).
pub fn read_scratch(path: &std::path::Path, key_hex: &str) -> io::Result<Vec<u8>> {
    let bytes: [u8; 32] = hex::decode(key_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a 256-bit hex key"))?;
    let bytes = zeroize::Zeroizing::new(bytes);
    let mut reader = OpenReader::new(
        std::fs::File::open(path)?,
        |v| (v == 1).then(|| super::aead::key(&bytes)),
        SCRATCH.into(),
    )?;
    let mut out = Vec::with_capacity(reader.len() as usize);
    reader.read_to_end(&mut out)?;
    Ok(out)
}
const HEADER: u64 = 12;
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const OVERHEAD: usize = 12 + 16;
const SEALED_CHUNK: u64 = (CHUNK + OVERHEAD) as u64;

fn chunk_aad(context: &str, version: u32, index: u64, last: bool) -> Vec<u8> {
    let mut aad = context.as_bytes().to_vec();
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

fn integrity(context: &str, reason: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("stored data failed its integrity check ({context}): {reason}"),
    )
}

/// Encrypts everything written to it into `inner`; call `finish` at the end (a
/// writer dropped without it leaves an object that fails to read: never silently short).
pub struct SealWriter<W: Write> {
    inner: W,
    key: LessSafeKey,
    version: u32,
    context: String,
    buf: Vec<u8>,
    index: u64,
}

impl<W: Write> SealWriter<W> {
    pub fn new(mut inner: W, key: LessSafeKey, version: u32, context: String) -> io::Result<Self> {
        inner.write_all(MAGIC)?;
        inner.write_all(&version.to_be_bytes())?;
        Ok(Self {
            inner,
            key,
            version,
            context,
            buf: Vec::with_capacity(CHUNK),
            index: 0,
        })
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        let aad = chunk_aad(&self.context, self.version, self.index, last);
        let sealed = seal_bytes(&self.key, &aad, &self.buf).map_err(io::Error::other)?;
        self.inner.write_all(&sealed)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals the last chunk and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        while !data.is_empty() {
            if self.buf.len() == CHUNK {
                // More follows, so the full chunk is not the last one.
                self.emit(false)?;
            }
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The key version an object was sealed under (read from its header).
pub fn version_of<R: Read>(mut inner: R) -> io::Result<u32> {
    let mut header = [0u8; HEADER as usize];
    inner.read_exact(&mut header)?;
    if &header[..8] != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not an encrypted insite object",
        ));
    }
    Ok(u32::from_be_bytes([
        header[8], header[9], header[10], header[11],
    ]))
}

/// Decrypts an object with random access (`Read + Seek` over the plaintext).
pub struct OpenReader<R: Read + Seek> {
    inner: R,
    key: LessSafeKey,
    version: u32,
    context: String,
    chunks: u64,
    len: u64,
    pos: u64,
    /// The decrypted chunk in hand and its index.
    cached: Option<(u64, Vec<u8>)>,
}

impl<R: Read + Seek> OpenReader<R> {
    /// Opens `inner`; `key_for` gives the key of the version named in the header.
    pub fn new(
        mut inner: R,
        key_for: impl Fn(u32) -> Option<LessSafeKey>,
        context: String,
    ) -> io::Result<Self> {
        inner.seek(SeekFrom::Start(0))?;
        let version = version_of(&mut inner).map_err(|e| integrity(&context, &e.to_string()))?;
        let key = key_for(version)
            .ok_or_else(|| integrity(&context, "sealed under a key this org no longer has"))?;
        let total = inner.seek(SeekFrom::End(0))?;
        let body = total.saturating_sub(HEADER);
        let chunks = body.div_ceil(SEALED_CHUNK);
        let last = body - chunks.saturating_sub(1) * SEALED_CHUNK;
        if chunks == 0 || last < OVERHEAD as u64 {
            return Err(integrity(&context, "truncated"));
        }
        let len = (chunks - 1) * CHUNK as u64 + last - OVERHEAD as u64;
        Ok(Self {
            inner,
            key,
            version,
            context,
            chunks,
            len,
            pos: 0,
            cached: None,
        })
    }

    /// Plaintext length.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key version of this object.
    pub fn version(&self) -> u32 {
        self.version
    }

    fn load(&mut self, index: u64) -> io::Result<()> {
        if self.cached.as_ref().is_some_and(|(i, _)| *i == index) {
            return Ok(());
        }
        let last = index + 1 == self.chunks;
        self.inner
            .seek(SeekFrom::Start(HEADER + index * SEALED_CHUNK))?;
        let mut sealed = Vec::with_capacity(SEALED_CHUNK as usize);
        (&mut self.inner)
            .take(SEALED_CHUNK)
            .read_to_end(&mut sealed)?;
        let aad = chunk_aad(&self.context, self.version, index, last);
        let plain = open_bytes(&self.key, &aad, &sealed).ok_or_else(|| {
            integrity(
                &self.context,
                "a chunk's ciphertext, nonce or associated data was altered",
            )
        })?;
        let expected = if last {
            self.len - index * CHUNK as u64
        } else {
            CHUNK as u64
        };
        if plain.len() as u64 != expected {
            return Err(integrity(&self.context, "chunk of the wrong size"));
        }
        self.cached = Some((index, plain));
        Ok(())
    }
}

impl<R: Read + Seek> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            // Reading the (possibly empty) last chunk still checks the object is whole.
            if self.pos >= self.len && self.cached.is_none() {
                self.load(self.chunks - 1)?;
            }
            return Ok(0);
        }
        let index = self.pos / CHUNK as u64;
        self.load(index)?;
        let Some((_, plain)) = &self.cached else {
            return Ok(0);
        };
        let start = (self.pos - index * CHUNK as u64) as usize;
        let n = (plain.len() - start).min(out.len());
        out[..n].copy_from_slice(&plain[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for OpenReader<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let next = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = next
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aead::key;
    use std::io::Cursor;

    fn seal(data: &[u8], context: &str) -> Vec<u8> {
        let mut w = SealWriter::new(Vec::new(), key(&[7; 32]), 3, context.into()).unwrap();
        // Odd write sizes cross chunk boundaries.
        for part in data.chunks(10_007) {
            w.write_all(part).unwrap();
        }
        w.finish().unwrap()
    }

    fn open(sealed: Vec<u8>, context: &str) -> io::Result<OpenReader<Cursor<Vec<u8>>>> {
        OpenReader::new(
            Cursor::new(sealed),
            |v| (v == 3).then(|| key(&[7; 32])),
            context.into(),
        )
    }

    fn read_all(sealed: Vec<u8>, context: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        open(sealed, context)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn objects_of_every_size_round_trip_and_seek() {
        for size in [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 200_001] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let sealed = seal(&data, "blob:o/a");
            assert_eq!(
                read_all(sealed.clone(), "blob:o/a").unwrap(),
                data,
                "{size}"
            );
            let mut r = open(sealed, "blob:o/a").unwrap();
            assert_eq!(r.len(), size as u64);
            if size > 10 {
                let at = size as u64 - 7;
                r.seek(SeekFrom::Start(at)).unwrap();
                let mut tail = Vec::new();
                r.read_to_end(&mut tail).unwrap();
                assert_eq!(tail, &data[at as usize..]);
            }
        }
    }

    #[test]
    fn altered_reordered_cut_or_moved_objects_fail_to_read() {
        let data: Vec<u8> = (0..(2 * CHUNK + 500)).map(|i| (i % 256) as u8).collect();
        let sealed = seal(&data, "blob:o/a");
        // A flipped bit anywhere after the header.
        for at in [HEADER as usize + 3, HEADER as usize + 40, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x80;
            let err = read_all(bad, "blob:o/a").unwrap_err();
            assert!(err.to_string().contains("integrity check"), "{err}");
        }
        // Cut after the first whole chunk: the remaining last chunk is not marked last.
        let cut = sealed[..(HEADER + SEALED_CHUNK) as usize].to_vec();
        assert!(read_all(cut, "blob:o/a").is_err());
        // Chunks swapped.
        let mut swapped = sealed.clone();
        let (a, b) = (HEADER as usize, (HEADER + SEALED_CHUNK) as usize);
        let first = swapped[a..b].to_vec();
        let second = swapped[b..b + SEALED_CHUNK as usize].to_vec();
        swapped[a..b].copy_from_slice(&second);
        swapped[b..b + SEALED_CHUNK as usize].copy_from_slice(&first);
        assert!(read_all(swapped, "blob:o/a").is_err());
        // The same bytes presented as another object.
        assert!(read_all(sealed.clone(), "blob:o/b").is_err());
        // Plain bytes are not an object.
        assert!(read_all(data, "blob:o/a").is_err());
    }
}
