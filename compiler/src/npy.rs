//! Minimal `.npy` (NumPy array file) reading and writing.
//!
//! Supports format versions 1.0–3.0, C order, little-endian or
//! byte-order-free element types that mcuc models use: `i1`, `u1`, `<i2`,
//! `<i4`, `<i8`, `<f4`, `b1`. Data is kept as raw little-endian bytes.

use std::path::Path;

use crate::error::{Error, Result};
use crate::ir::DType;

const MAGIC: &[u8] = b"\x93NUMPY";

/// An array read from or written to a `.npy` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Row-major, little-endian element bytes.
    pub data: Vec<u8>,
}

impl Array {
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<u8>) -> Self {
        Array { dtype, shape, data }
    }

    /// Number of elements (saturating; exact for every parsed array).
    pub fn elements(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .unwrap_or(usize::MAX)
    }
}

fn descr(dtype: DType) -> &'static str {
    match dtype {
        DType::Int8 => "|i1",
        DType::UInt8 => "|u1",
        DType::Int16 => "<i2",
        DType::Int32 => "<i4",
        DType::Int64 => "<i8",
        DType::Float32 => "<f4",
        DType::Bool => "|b1",
    }
}

fn parse_descr(d: &str) -> Option<DType> {
    Some(match d {
        "|i1" | "<i1" | "i1" => DType::Int8,
        "|u1" | "<u1" | "u1" => DType::UInt8,
        "<i2" => DType::Int16,
        "<i4" => DType::Int32,
        "<i8" => DType::Int64,
        "<f4" => DType::Float32,
        "|b1" => DType::Bool,
        _ => return None,
    })
}

/// Reads a `.npy` file.
pub fn read(path: &Path) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(&bytes).map_err(|message| Error::Npy {
        path: path.to_path_buf(),
        message,
    })
}

/// Writes a `.npy` file (format 1.0).
pub fn write(path: &Path, array: &Array) -> Result<()> {
    std::fs::write(path, encode(array)).map_err(|e| Error::io(path, e))
}

/// Parses `.npy` bytes.
pub fn parse(bytes: &[u8]) -> Result<Array, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (missing \\x93NUMPY magic)".into());
    }
    let major = bytes[6];
    let (header_len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let header = start
        .checked_add(header_len)
        .and_then(|end| bytes.get(start..end))
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let dtype = parse_descr(descr).ok_or_else(|| {
        format!("unsupported dtype '{descr}' (expected int8, uint8, int16, int32, int64, float32 or bool, little-endian)")
    })?;
    let fortran = dict_value(header, "fortran_order").ok_or("header has no 'fortran_order'")?;
    if fortran.trim() != "False" {
        return Err("Fortran-order arrays are not supported; save with C order".into());
    }
    let shape_src = dict_value(header, "shape").ok_or("header has no 'shape'")?;
    let shape = shape_src
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape {shape_src}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = &bytes[start + header_len..];
    let need = shape
        .iter()
        .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} of {dtype} is too large"))?;
    if data.len() != need {
        return Err(format!(
            "data has {} bytes, shape {shape:?} of {dtype} needs {need}",
            data.len()
        ));
    }
    Ok(Array::new(dtype, shape, data.to_vec()))
}

/// The source text of `key`'s value in a Python dict literal (values here
/// are strings, booleans or tuples, so scanning to the next top-level comma
/// is enough).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[..=i]);
                }
            }
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

/// Encodes an array as `.npy` 1.0 bytes.
pub fn encode(array: &Array) -> Vec<u8> {
    let shape = match array.shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", array.shape[0]),
        _ => format!(
            "({})",
            array
                .shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr(array.dtype)
    );
    // Pad so that the data starts on a 64-byte boundary, newline-terminated.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + array.data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&array.data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_int8_and_float() {
        for (dtype, shape, data) in [
            (DType::Int8, vec![1, 2, 3], vec![1u8, 255, 3, 4, 5, 128]),
            (
                DType::Float32,
                vec![2],
                1.5f32
                    .to_le_bytes()
                    .iter()
                    .chain(&(-2.0f32).to_le_bytes())
                    .copied()
                    .collect(),
            ),
            (DType::Int32, vec![1], 7i32.to_le_bytes().to_vec()),
            (DType::Int8, vec![], vec![9u8]),
        ] {
            let a = Array::new(dtype, shape, data);
            let bytes = encode(&a);
            assert_eq!((bytes.len() - a.data.len()) % 64, 0);
            assert_eq!(parse(&bytes), Ok(a));
        }
    }

    #[test]
    fn reads_numpy_written_header() {
        // Header exactly as numpy 2 writes it for np.zeros((1, 2), np.int8).
        let mut b =
            b"\x93NUMPY\x01\x00v\x00{'descr': '|i1', 'fortran_order': False, 'shape': (1, 2), }"
                .to_vec();
        b.resize(10 + 0x76 - 1, b' ');
        b.push(b'\n');
        b.extend_from_slice(&[0, 0]);
        let a = parse(&b).expect("parse");
        assert_eq!(a.shape, vec![1, 2]);
        assert_eq!(a.dtype, DType::Int8);
    }

    #[test]
    fn errors_are_specific() {
        assert!(parse(b"hello world").unwrap_err().contains("magic"));
        let a = Array::new(DType::Int8, vec![4], vec![0; 4]);
        let mut bytes = encode(&a);
        bytes.pop();
        assert!(parse(&bytes).unwrap_err().contains("needs 4"));
        let patched = |from: &str, to: &str| {
            let mut b = encode(&a);
            let at = b
                .windows(from.len())
                .position(|w| w == from.as_bytes())
                .expect("present");
            b[at..at + to.len()].copy_from_slice(to.as_bytes());
            b
        };
        assert!(
            parse(&patched("|i1", ">i4"))
                .unwrap_err()
                .contains("unsupported dtype")
        );
        assert!(
            parse(&patched("False", "True "))
                .unwrap_err()
                .contains("Fortran")
        );
    }

    #[test]
    fn huge_shapes_are_errors() {
        let header = "{'descr': '|i1', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }\n";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        assert!(parse(&b).unwrap_err().contains("too large"));
    }
}
