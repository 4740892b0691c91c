//! The host reference executor behind `mcuc run`.
//!
//! It runs the graph in topological order, calling the very kernel functions
//! of `mcuc-templates` that the code generator specializes, with parameters
//! computed by the same lowering ([`crate::kernels`]). A match between this
//! executor and the TFLite goldens is therefore evidence about the shipped
//! kernels, not about a second implementation.

pub mod float;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ir::{Graph, ValueId};
use crate::kernels;
use crate::npy::{self, Array};

/// Checks that `arrays` match the graph inputs in count, dtype and shape.
pub fn check_inputs(g: &Graph, arrays: &[Array], names: &[String]) -> Result<()> {
    if arrays.len() != g.inputs.len() {
        return Err(Error::IoMismatch {
            message: format!(
                "the model has {} input(s) ({}), got {}",
                g.inputs.len(),
                g.inputs
                    .iter()
                    .map(|&v| format!("`{}`", g.value(v).name))
                    .collect::<Vec<_>>()
                    .join(", "),
                arrays.len()
            ),
        });
    }
    for (i, ((&v, a), file)) in g.inputs.iter().zip(arrays).zip(names).enumerate() {
        let fact = g.fact(v);
        if a.dtype != fact.dtype || a.shape != fact.shape {
            return Err(Error::IoMismatch {
                message: format!(
                    "{file}: input {i} `{}` expects {} {:?}, the file holds {} {:?}",
                    g.value(v).name,
                    fact.dtype,
                    fact.shape,
                    a.dtype,
                    a.shape
                ),
            });
        }
    }
    Ok(())
}

/// Runs `g` on `inputs` (already checked with [`check_inputs`]) and returns
/// one array per graph output.
pub fn run(g: &Graph, inputs: &[Array]) -> Result<Vec<Array>> {
    let order = g.topo_order().ok_or_else(|| Error::Verify {
        stage: "exec".into(),
        errors: vec!["the graph has a cycle".into()],
    })?;
    let mut buffers: BTreeMap<ValueId, Vec<i8>> = BTreeMap::new();
    for (&v, a) in g.inputs.iter().zip(inputs) {
        buffers.insert(v, a.data.iter().map(|&b| b as i8).collect());
    }
    for n in order {
        let node = g.node(n);
        let kernel = kernels::lower(g, n)?;
        let mut out = vec![0i8; g.fact(node.outputs[0]).bytes()];
        {
            let ins: Vec<&[i8]> = kernel
                .inputs
                .iter()
                .map(|&v| read(g, &buffers, v, &node.name))
                .collect::<Result<_>>()?;
            kernel.execute(&ins, &mut out);
        }
        buffers.insert(node.outputs[0], out);
    }
    g.outputs
        .iter()
        .map(|&v| {
            let fact = g.fact(v);
            let data = buffers.get(&v).ok_or_else(|| Error::Verify {
                stage: "exec".into(),
                errors: vec![format!("graph output {v} was never computed")],
            })?;
            Ok(Array::new(
                fact.dtype,
                fact.shape.clone(),
                data.iter().map(|&b| b as u8).collect(),
            ))
        })
        .collect()
}

/// The bytes of value `v`: computed, or constant data.
fn read<'a>(
    g: &'a Graph,
    buffers: &'a BTreeMap<ValueId, Vec<i8>>,
    v: ValueId,
    node: &str,
) -> Result<&'a [i8]> {
    if let Some(b) = buffers.get(&v) {
        return Ok(b);
    }
    if let Some(data) = &g.value(v).data {
        return Ok(bytes_as_i8(data));
    }
    Err(Error::Verify {
        stage: "exec".into(),
        errors: vec![format!("node `{node}` reads {v} before it is computed")],
    })
}

/// Constant bytes as `i8` (two's complement, same bits).
pub(crate) fn bytes_as_i8(bytes: &[u8]) -> &[i8] {
    mcuc_runtime::arena::as_i8(bytes)
}

/// `mcuc run`: reads the model and `.npy` inputs, writes `.npy` outputs.
pub fn run_files(model: &Path, inputs: &[PathBuf], outputs: &[PathBuf]) -> Result<()> {
    run_files_with(
        model,
        &crate::pipeline::LoadOptions::default(),
        inputs,
        outputs,
    )
}

/// [`run_files`] with load options (calibration for float models).
pub fn run_files_with(
    model: &Path,
    opts: &crate::pipeline::LoadOptions,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
) -> Result<()> {
    let g = crate::pipeline::load_with(model, opts)?;
    let arrays = inputs
        .iter()
        .map(|p| npy::read(p))
        .collect::<Result<Vec<_>>>()?;
    // An ONNX NCHW input that mcuc reads in NHWC order may be given in the
    // model's own (NCHW) layout.
    let arrays: Vec<Array> = arrays
        .into_iter()
        .enumerate()
        .map(|(i, a)| match g.inputs.get(i).map(|&v| &g.fact(v).shape) {
            Some(s)
                if s.len() == 4
                    && a.shape == [s[0], s[3], s[1], s[2]]
                    && a.shape != *s
                    && a.data.len() == a.elements() * a.dtype.size() =>
            {
                nchw_to_nhwc(&a)
            }
            _ => a,
        })
        .collect();
    if outputs.len() != g.outputs.len() {
        return Err(Error::IoMismatch {
            message: format!(
                "the model has {} output(s), got {} --output path(s)",
                g.outputs.len(),
                outputs.len()
            ),
        });
    }
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    check_inputs(&g, &arrays, &names)?;
    let results = run(&g, &arrays)?;
    for (path, array) in outputs.iter().zip(&results) {
        npy::write(path, array)?;
    }
    Ok(())
}

/// Reorders a 4-D NCHW array to NHWC.
pub fn nchw_to_nhwc(a: &Array) -> Array {
    let s = &a.shape;
    let size = a.dtype.size();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let mut out = Vec::with_capacity(a.data.len());
    for b in 0..n {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let i = ((b * c + ch) * h + y) * w + x;
                    out.extend_from_slice(&a.data[i * size..(i + 1) * size]);
                }
            }
        }
    }
    Array::new(a.dtype, vec![n, h, w, c], out)
}
