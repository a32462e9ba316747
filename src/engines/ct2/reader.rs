//! Reads the tensor index of a CTranslate2 `model.bin` (format version 6) without
//! loading tensor data into memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// CTranslate2 data types, as stored in `model.bin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 => 1,
        }
    }
}

/// Where one tensor's bytes are in the file.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub dims: Vec<usize>,
    pub dtype: DType,
    pub offset: u64,
    pub nbytes: usize,
}

/// The index of a CTranslate2 model file.
#[derive(Debug)]
pub struct Ct2Model {
    pub spec: String,
    pub tensors: HashMap<String, TensorInfo>,
}

/// Why a file is not a readable CTranslate2 model.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a CTranslate2 model: {0}")]
    Format(String),
}

fn u8_(r: &mut impl Read) -> Result<u8, ReadError> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn u16_(r: &mut impl Read) -> Result<u16, ReadError> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn u32_(r: &mut impl Read) -> Result<u32, ReadError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// A length-prefixed, NUL-terminated string.
fn string(r: &mut impl Read) -> Result<String, ReadError> {
    let len = u16_(r)? as usize;
    let mut b = vec![0u8; len];
    r.read_exact(&mut b)?;
    if b.last() == Some(&0) {
        b.pop();
    }
    String::from_utf8(b).map_err(|_| ReadError::Format("tensor name is not UTF-8".into()))
}

impl Ct2Model {
    /// Indexes `path`: names, shapes, types and offsets; aliases resolved.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut r = BufReader::new(file);
        let version = u32_(&mut r)?;
        if !(2..=6).contains(&version) {
            return Err(ReadError::Format(format!(
                "unsupported model.bin version {version}"
            )));
        }
        let spec = string(&mut r)?;
        let _revision = u32_(&mut r)?;
        let count = u32_(&mut r)?;
        let mut tensors = HashMap::new();
        for _ in 0..count {
            let name = string(&mut r)?;
            let ndim = u8_(&mut r)? as usize;
            let mut dims = Vec::with_capacity(ndim);
            for _ in 0..ndim {
                dims.push(u32_(&mut r)? as usize);
            }
            let dtype = DType::from_byte(u8_(&mut r)?)
                .ok_or_else(|| ReadError::Format(format!("unknown dtype in {name}")))?;
            let nbytes = u32_(&mut r)? as usize;
            let offset = r.stream_position()?;
            let elements: usize = dims.iter().product();
            if elements * dtype.size() != nbytes || offset + nbytes as u64 > file_len {
                return Err(ReadError::Format(format!(
                    "tensor {name} has inconsistent size (truncated file?)"
                )));
            }
            r.seek(SeekFrom::Current(nbytes as i64))?;
            tensors.insert(
                name,
                TensorInfo {
                    dims,
                    dtype,
                    offset,
                    nbytes,
                },
            );
        }
        let aliases = u32_(&mut r).unwrap_or(0);
        for _ in 0..aliases {
            let alias = string(&mut r)?;
            let target = string(&mut r)?;
            if let Some(info) = tensors.get(&target).cloned() {
                tensors.insert(alias, info);
            }
        }
        Ok(Self { spec, tensors })
    }

    pub fn get(&self, name: &str) -> Result<&TensorInfo, ReadError> {
        self.tensors
            .get(name)
            .ok_or_else(|| ReadError::Format(format!("missing tensor {name}")))
    }

    /// A small integer scalar (e.g. `encoder/num_heads`).
    pub fn scalar(&self, file: &mut File, name: &str) -> Result<i64, ReadError> {
        let info = self.get(name)?;
        let bytes = read_bytes(file, info.offset, info.nbytes)?;
        Ok(match (info.dtype, bytes.as_slice()) {
            (DType::I8, [a]) => i64::from(*a as i8),
            (DType::I16, [a, b]) => i64::from(i16::from_le_bytes([*a, *b])),
            (DType::I32, [a, b, c, d]) => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
            _ => {
                return Err(ReadError::Format(format!(
                    "{name} is not an integer scalar"
                )))
            }
        })
    }
}

/// Reads `len` bytes at `offset`.
pub fn read_bytes(file: &mut File, offset: u64, len: usize) -> Result<Vec<u8>, ReadError> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf)?;
    Ok(buf)
}
