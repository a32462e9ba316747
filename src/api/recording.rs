//! Streaming a stored recording: decrypted chunk by chunk as it is sent, with HTTP
//! range requests (single range) for players that seek.

use super::error::{AppError, AppResult};
use crate::crypto::stream::OpenReader;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

const PIECE: u64 = 64 * 1024;

/// The byte range asked for, inclusive, or `None` for the whole object.
fn wanted_range(req: &HttpRequest, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(raw) = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: the whole object is a valid answer
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            (len.saturating_sub(n), len.checked_sub(1).ok_or(())?)
        }
        (s, "") => (s.parse().map_err(|_| ())?, len.checked_sub(1).ok_or(())?),
        (s, e) => {
            let e: u64 = e.parse().map_err(|_| ())?;
            (s.parse().map_err(|_| ())?, e.min(len.saturating_sub(1)))
        }
    };
    if start > end || start >= len {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// The media type from the first bytes (stored objects carry no file name).
fn sniff(reader: &mut OpenReader<File>) -> std::io::Result<&'static str> {
    let mut head = [0u8; 12];
    let n = reader.read(&mut head)?;
    reader.seek(SeekFrom::Start(0))?;
    let head = &head[..n];
    Ok(if head.starts_with(b"RIFF") {
        "audio/wav"
    } else if head.starts_with(b"fLaC") {
        "audio/flac"
    } else if head.starts_with(b"OggS") {
        "audio/ogg"
    } else if head.starts_with(b"ID3") || head.first() == Some(&0xFF) {
        "audio/mpeg"
    } else if head.get(4..8) == Some(b"ftyp") {
        "audio/mp4"
    } else {
        "application/octet-stream"
    })
}

/// Reads (and so authenticates) `count` bytes from `start`, then returns to `start`.
fn authenticate(reader: &mut OpenReader<File>, start: u64, count: u64) -> std::io::Result<()> {
    reader.seek(SeekFrom::Start(start))?;
    let mut left = count;
    let mut buf = vec![0u8; PIECE.min(count.max(1)) as usize];
    while left > 0 {
        let n = PIECE.min(left) as usize;
        reader.read_exact(&mut buf[..n])?;
        left -= n as u64;
    }
    reader.seek(SeekFrom::Start(start))?;
    Ok(())
}

/// Answers with the object (or the range asked for), decrypting as it streams.
pub async fn respond(req: &HttpRequest, reader: OpenReader<File>) -> AppResult<HttpResponse> {
    let len = reader.len();
    let (reader, kind) = web::block(move || {
        let mut r = reader;
        let kind = sniff(&mut r);
        (r, kind)
    })
    .await?;
    // A recording altered at rest is refused before anything is sent.
    let kind = kind.map_err(|e| AppError::Integrity(e.to_string()))?;
    let range = match wanted_range(req, len) {
        Ok(r) => r,
        Err(()) => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
                .finish())
        }
    };
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    let count = if len == 0 { 0 } else { end - start + 1 };
    // Every chunk to be sent is authenticated before the headers go out: an altered
    // chunk anywhere in the range answers DATA_INTEGRITY instead of a cut stream.
    let (reader, checked) = web::block(move || {
        let mut r = reader;
        let checked = authenticate(&mut r, start, count);
        (r, checked)
    })
    .await?;
    checked.map_err(|e| AppError::Integrity(e.to_string()))?;
    let body = futures_util::stream::unfold((reader, count), |(reader, left)| async move {
        if left == 0 {
            return None;
        }
        let read = web::block(move || {
            let mut r = reader;
            let mut buf = vec![0u8; PIECE.min(left) as usize];
            let res = r.read_exact(&mut buf).map(|()| buf);
            (r, res)
        })
        .await;
        match read {
            Ok((r, Ok(buf))) => {
                let n = buf.len() as u64;
                Some((Ok(web::Bytes::from(buf)), (r, left - n)))
            }
            Ok((_, Err(e))) => {
                // Headers are gone already: the connection is cut, never padded.
                tracing::error!(error = %e, "recording stream failed");
                None::<(Result<web::Bytes, std::io::Error>, _)>
            }
            Err(e) => {
                tracing::error!(error = %e, "recording stream failed");
                None
            }
        }
    });
    let mut res = match range {
        Some(_) => HttpResponse::PartialContent(),
        None => HttpResponse::Ok(),
    };
    res.insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CONTENT_TYPE, kind))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .no_chunking(count);
    if range.is_some() {
        res.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")));
    }
    Ok(res.streaming(body))
}
