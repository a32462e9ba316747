//! The conversion: split fused attention projections, rename to whisper.cpp's
//! tensor names, write hyper-parameters, mel filters and vocabulary.

use super::reader::{read_bytes, Ct2Model, DType, ReadError, TensorInfo};
use super::{mel, vocab};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// GPT-2 vocabulary size: ids 0..=50256; whisper.cpp adds the special tokens.
const GPT2_VOCAB: usize = 50257;
const GGML_MAGIC: u32 = 0x6767_6d6c;

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub output: PathBuf,
    pub tensors: usize,
    pub n_vocab: usize,
    pub n_mels: usize,
    pub n_audio_layer: usize,
    pub n_text_layer: usize,
    pub bytes: u64,
}

/// Why a conversion failed; names the file or tensor.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: ReadError },
    #[error("{0}")]
    Model(String),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One output tensor: a row range of a source tensor, with its output type.
struct Plan {
    name: String,
    src: String,
    rows: Option<(usize, usize)>,
    shape: Vec<usize>,
    f32_out: bool,
}

struct HParams {
    n_vocab: usize,
    n_audio_ctx: usize,
    n_audio_state: usize,
    n_audio_head: usize,
    n_audio_layer: usize,
    n_text_ctx: usize,
    n_text_state: usize,
    n_text_head: usize,
    n_text_layer: usize,
    n_mels: usize,
}

/// Converts the CTranslate2 model directory `dir` into the ggml file `out`.
/// Writes to a temporary file first, so a failure never leaves a partial model.
pub fn import(
    dir: &Path,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ImportReport, ImportError> {
    let bin = dir.join("model.bin");
    let read_err = |source| ImportError::Read {
        path: bin.clone(),
        source,
    };
    let model = Ct2Model::open(&bin).map_err(read_err)?;
    if model.spec != "WhisperSpec" {
        return Err(ImportError::Model(format!(
            "{}: is a {} model, not Whisper",
            bin.display(),
            model.spec
        )));
    }
    let mut file = File::open(&bin).map_err(|e| read_err(e.into()))?;
    let hp = hparams(&model, &mut file).map_err(read_err)?;
    let tokens = read_vocabulary(dir)?;
    let plans = plan(&model, &hp).map_err(read_err)?;

    let tmp = out.with_extension("part");
    let write_err = |source| ImportError::Write {
        path: out.to_path_buf(),
        source,
    };
    let mut w = BufWriter::new(File::create(&tmp).map_err(write_err)?);
    write_header(&mut w, &hp, &tokens).map_err(write_err)?;
    for (i, p) in plans.iter().enumerate() {
        let info = model.get(&p.src).map_err(read_err)?;
        let data = tensor_bytes(&mut file, info, p).map_err(read_err)?;
        write_tensor(&mut w, p, &data).map_err(write_err)?;
        progress(i + 1, plans.len());
    }
    w.flush().map_err(write_err)?;
    w.get_ref().sync_all().map_err(write_err)?;
    drop(w);
    std::fs::rename(&tmp, out).map_err(write_err)?;
    let bytes = std::fs::metadata(out).map_err(write_err)?.len();
    Ok(ImportReport {
        output: out.to_path_buf(),
        tensors: plans.len(),
        n_vocab: hp.n_vocab,
        n_mels: hp.n_mels,
        n_audio_layer: hp.n_audio_layer,
        n_text_layer: hp.n_text_layer,
        bytes,
    })
}

fn count_layers(model: &Ct2Model, prefix: &str) -> usize {
    (0..)
        .take_while(|i| {
            model
                .tensors
                .contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))
        })
        .count()
}

fn dim(model: &Ct2Model, name: &str, i: usize) -> Result<usize, ReadError> {
    model
        .get(name)?
        .dims
        .get(i)
        .copied()
        .ok_or_else(|| ReadError::Format(format!("{name} has too few dimensions")))
}

fn hparams(model: &Ct2Model, file: &mut File) -> Result<HParams, ReadError> {
    let heads = |file: &mut File, n: &str| -> Result<usize, ReadError> {
        usize::try_from(model.scalar(file, n)?)
            .map_err(|_| ReadError::Format(format!("{n} is negative")))
    };
    Ok(HParams {
        n_vocab: dim(model, "decoder/embeddings/weight", 0)?,
        n_audio_ctx: dim(model, "encoder/position_encodings/encodings", 0)?,
        n_audio_state: dim(model, "encoder/position_encodings/encodings", 1)?,
        n_audio_head: heads(file, "encoder/num_heads")?,
        n_audio_layer: count_layers(model, "encoder"),
        n_text_ctx: dim(model, "decoder/position_encodings/encodings", 0)?,
        n_text_state: dim(model, "decoder/position_encodings/encodings", 1)?,
        n_text_head: heads(file, "decoder/num_heads")?,
        n_text_layer: count_layers(model, "decoder"),
        n_mels: dim(model, "encoder/conv1/weight", 1)?,
    })
}

fn read_vocabulary(dir: &Path) -> Result<Vec<Vec<u8>>, ImportError> {
    let txt = dir.join("vocabulary.txt");
    let json = dir.join("vocabulary.json");
    let lines: Vec<String> = if txt.exists() {
        std::fs::read_to_string(&txt)
            .map_err(|e| ImportError::Model(format!("{}: {e}", txt.display())))?
            .lines()
            .map(str::to_string)
            .collect()
    } else {
        let text = std::fs::read_to_string(&json)
            .map_err(|e| ImportError::Model(format!("{}: {e}", json.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| ImportError::Model(format!("{}: {e}", json.display())))?
    };
    if lines.len() < GPT2_VOCAB {
        return Err(ImportError::Model(format!(
            "vocabulary in {} has {} tokens, expected at least {GPT2_VOCAB}",
            dir.display(),
            lines.len()
        )));
    }
    let decoder = vocab::byte_decoder();
    Ok(lines[..GPT2_VOCAB]
        .iter()
        .map(|t| vocab::decode_token(t, &decoder))
        .collect())
}

/// Maps every whisper.cpp tensor to its CTranslate2 source.
fn plan(model: &Ct2Model, hp: &HParams) -> Result<Vec<Plan>, ReadError> {
    let mut plans = Vec::new();
    let mut add = |name: String, src: String, rows: Option<(usize, usize)>, f32_out: bool| {
        plans.push((name, src, rows, f32_out));
    };
    let enc = "encoder";
    add(
        format!("{enc}.positional_embedding"),
        format!("{enc}/position_encodings/encodings"),
        None,
        true,
    );
    for conv in ["conv1", "conv2"] {
        add(
            format!("{enc}.{conv}.weight"),
            format!("{enc}/{conv}/weight"),
            None,
            false,
        );
        add(
            format!("{enc}.{conv}.bias"),
            format!("{enc}/{conv}/bias"),
            None,
            true,
        );
    }
    add(
        format!("{enc}.ln_post.weight"),
        format!("{enc}/layer_norm/gamma"),
        None,
        true,
    );
    add(
        format!("{enc}.ln_post.bias"),
        format!("{enc}/layer_norm/beta"),
        None,
        true,
    );
    let d = hp.n_audio_state;
    for i in 0..hp.n_audio_layer {
        let (o, s) = (format!("{enc}.blocks.{i}"), format!("{enc}/layer_{i}"));
        self_attention(&mut add, &o, &s, d);
        mlp(&mut add, &o, &s);
    }
    let dec = "decoder";
    add(
        format!("{dec}.positional_embedding"),
        format!("{dec}/position_encodings/encodings"),
        None,
        true,
    );
    add(
        format!("{dec}.token_embedding.weight"),
        format!("{dec}/embeddings/weight"),
        None,
        false,
    );
    add(
        format!("{dec}.ln.weight"),
        format!("{dec}/layer_norm/gamma"),
        None,
        true,
    );
    add(
        format!("{dec}.ln.bias"),
        format!("{dec}/layer_norm/beta"),
        None,
        true,
    );
    let d = hp.n_text_state;
    for i in 0..hp.n_text_layer {
        let (o, s) = (format!("{dec}.blocks.{i}"), format!("{dec}/layer_{i}"));
        self_attention(&mut add, &o, &s, d);
        let x = format!("{s}/attention");
        add(
            format!("{o}.cross_attn_ln.weight"),
            format!("{x}/layer_norm/gamma"),
            None,
            true,
        );
        add(
            format!("{o}.cross_attn_ln.bias"),
            format!("{x}/layer_norm/beta"),
            None,
            true,
        );
        add(
            format!("{o}.cross_attn.query.weight"),
            format!("{x}/linear_0/weight"),
            None,
            false,
        );
        add(
            format!("{o}.cross_attn.query.bias"),
            format!("{x}/linear_0/bias"),
            None,
            true,
        );
        // Fused key/value: rows [0, d) are the key (no bias in Whisper), [d, 2d) the value.
        add(
            format!("{o}.cross_attn.key.weight"),
            format!("{x}/linear_1/weight"),
            Some((0, d)),
            false,
        );
        add(
            format!("{o}.cross_attn.value.weight"),
            format!("{x}/linear_1/weight"),
            Some((d, 2 * d)),
            false,
        );
        add(
            format!("{o}.cross_attn.value.bias"),
            format!("{x}/linear_1/bias"),
            Some((d, 2 * d)),
            true,
        );
        add(
            format!("{o}.cross_attn.out.weight"),
            format!("{x}/linear_2/weight"),
            None,
            false,
        );
        add(
            format!("{o}.cross_attn.out.bias"),
            format!("{x}/linear_2/bias"),
            None,
            true,
        );
        mlp(&mut add, &o, &s);
    }
    plans
        .into_iter()
        .map(|(name, src, rows, f32_out)| {
            let info = model.get(&src)?;
            let mut shape = info.dims.clone();
            if let Some((a, b)) = rows {
                shape[0] = b - a;
            }
            if name.ends_with("conv1.bias") || name.ends_with("conv2.bias") {
                shape.push(1); // whisper.cpp wants conv biases as [n, 1]
            }
            let f32_out = f32_out || shape.len() < 2;
            Ok(Plan {
                name,
                src,
                rows,
                shape,
                f32_out,
            })
        })
        .collect()
}

type Add<'a> = dyn FnMut(String, String, Option<(usize, usize)>, bool) + 'a;

fn self_attention(add: &mut Add<'_>, o: &str, s: &str, d: usize) {
    let a = format!("{s}/self_attention");
    add(
        format!("{o}.attn_ln.weight"),
        format!("{a}/layer_norm/gamma"),
        None,
        true,
    );
    add(
        format!("{o}.attn_ln.bias"),
        format!("{a}/layer_norm/beta"),
        None,
        true,
    );
    // Fused QKV (3d x d): query rows [0, d), key [d, 2d) (no bias), value [2d, 3d).
    let (w, b) = (format!("{a}/linear_0/weight"), format!("{a}/linear_0/bias"));
    add(
        format!("{o}.attn.query.weight"),
        w.clone(),
        Some((0, d)),
        false,
    );
    add(
        format!("{o}.attn.query.bias"),
        b.clone(),
        Some((0, d)),
        true,
    );
    add(
        format!("{o}.attn.key.weight"),
        w.clone(),
        Some((d, 2 * d)),
        false,
    );
    add(
        format!("{o}.attn.value.weight"),
        w,
        Some((2 * d, 3 * d)),
        false,
    );
    add(
        format!("{o}.attn.value.bias"),
        b,
        Some((2 * d, 3 * d)),
        true,
    );
    add(
        format!("{o}.attn.out.weight"),
        format!("{a}/linear_1/weight"),
        None,
        false,
    );
    add(
        format!("{o}.attn.out.bias"),
        format!("{a}/linear_1/bias"),
        None,
        true,
    );
}

fn mlp(add: &mut Add<'_>, o: &str, s: &str) {
    let f = format!("{s}/ffn");
    add(
        format!("{o}.mlp_ln.weight"),
        format!("{f}/layer_norm/gamma"),
        None,
        true,
    );
    add(
        format!("{o}.mlp_ln.bias"),
        format!("{f}/layer_norm/beta"),
        None,
        true,
    );
    add(
        format!("{o}.mlp.0.weight"),
        format!("{f}/linear_0/weight"),
        None,
        false,
    );
    add(
        format!("{o}.mlp.0.bias"),
        format!("{f}/linear_0/bias"),
        None,
        true,
    );
    add(
        format!("{o}.mlp.2.weight"),
        format!("{f}/linear_1/weight"),
        None,
        false,
    );
    add(
        format!("{o}.mlp.2.bias"),
        format!("{f}/linear_1/bias"),
        None,
        true,
    );
}

/// The source bytes for a plan, converted to f16 or f32 as the plan wants.
fn tensor_bytes(file: &mut File, info: &TensorInfo, p: &Plan) -> Result<Vec<u8>, ReadError> {
    let row_elems: usize = info.dims.iter().skip(1).product::<usize>().max(1);
    let (start, end) = p
        .rows
        .unwrap_or((0, info.dims.first().copied().unwrap_or(1)));
    let size = info.dtype.size();
    let raw = read_bytes(
        file,
        info.offset + (start * row_elems * size) as u64,
        (end - start) * row_elems * size,
    )?;
    let values: Vec<f32> = match info.dtype {
        DType::F16 if !p.f32_out => return Ok(raw),
        DType::F16 => raw
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        DType::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        other => {
            return Err(ReadError::Format(format!(
                "{} is {other:?}: quantized CTranslate2 models are not supported, \
                 export with --quantization float16",
                p.src
            )))
        }
    };
    Ok(if p.f32_out {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    } else {
        values
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect()
    })
}

fn i32_(w: &mut impl Write, v: usize) -> std::io::Result<()> {
    let v = i32::try_from(v).map_err(|_| std::io::Error::other("value exceeds i32"))?;
    w.write_all(&v.to_le_bytes())
}

fn write_header(w: &mut impl Write, hp: &HParams, tokens: &[Vec<u8>]) -> std::io::Result<()> {
    w.write_all(&GGML_MAGIC.to_le_bytes())?;
    for v in [
        hp.n_vocab,
        hp.n_audio_ctx,
        hp.n_audio_state,
        hp.n_audio_head,
        hp.n_audio_layer,
        hp.n_text_ctx,
        hp.n_text_state,
        hp.n_text_head,
        hp.n_text_layer,
        hp.n_mels,
        1, // ftype: f16 weights
    ] {
        i32_(w, v)?;
    }
    let filters = mel::filterbank(hp.n_mels);
    i32_(w, hp.n_mels)?;
    i32_(w, filters.len() / hp.n_mels)?;
    for f in filters {
        w.write_all(&f.to_le_bytes())?;
    }
    i32_(w, tokens.len())?;
    for t in tokens {
        i32_(w, t.len())?;
        w.write_all(t)?;
    }
    Ok(())
}

fn write_tensor(w: &mut impl Write, p: &Plan, data: &[u8]) -> std::io::Result<()> {
    i32_(w, p.shape.len())?;
    i32_(w, p.name.len())?;
    i32_(w, usize::from(!p.f32_out))?;
    for d in p.shape.iter().rev() {
        i32_(w, *d)?;
    }
    w.write_all(p.name.as_bytes())?;
    w.write_all(data)
}
