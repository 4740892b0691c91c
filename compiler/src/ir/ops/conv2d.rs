//! CONV_2D: `[1,H,W,Cin] * [Cout,KH,KW,Cin/groups] + bias -> [1,OH,OW,Cout]`.

use super::{
    Activation, OpDef, Padding, expect_float, expect_int8_per_tensor, geometry_summary, window_out,
};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub pad: Padding,
    pub act: Activation,
}

impl OpDef for Conv2d {
    fn name(&self) -> &'static str {
        "CONV_2D"
    }

    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let (x, w) = match inputs {
            [x, w] | [x, w, _] => (x, w),
            _ => return Err(format!("takes 2 or 3 inputs, got {}", inputs.len())),
        };
        let (&[1, h, wd, cin], &[cout, kh, kw, wcin]) = (&x.shape[..], &w.shape[..]) else {
            return Err(format!(
                "expects input [1,H,W,C] and filter [O,KH,KW,I], got {:?} and {:?}",
                x.shape, w.shape
            ));
        };
        // groups = cin / wcin must be a positive divisor of cout.
        if wcin == 0 || cin % wcin != 0 || cin < wcin || cout % (cin / wcin) != 0 {
            return Err(format!(
                "filter input channels {wcin} do not divide input channels {cin}"
            ));
        }
        if let Some(b) = inputs.get(2)
            && b.shape != [cout]
        {
            return Err(format!("bias shape {:?}, expected [{cout}]", b.shape));
        }
        let oh = window_out(
            h,
            self.pad.top,
            self.pad.bottom,
            kh,
            self.stride[0],
            self.dilation[0],
        )?;
        let ow = window_out(
            wd,
            self.pad.left,
            self.pad.right,
            kw,
            self.stride[1],
            self.dilation[1],
        )?;
        Ok(vec![(vec![1, oh, ow, cout], x.dtype)])
    }

    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        conv_like_check(inputs, outputs, 0)
    }

    fn macs(&self, inputs: &[&Fact], outputs: &[&Fact]) -> u64 {
        let w = &inputs[1].shape;
        (outputs[0].elements() * w[1] * w[2] * w[3]) as u64
    }

    fn summary(&self, inputs: &[&Fact]) -> String {
        let w = &inputs[1].shape;
        format!(
            "{}{}",
            geometry_summary([w[1], w[2]], self.stride, self.dilation, &self.pad),
            self.act.suffix()
        )
    }
}

/// Checks shared by CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: int8
/// activations per tensor, int8 weights (per-tensor or per-channel along
/// `channel_axis` with zero points 0), int32 bias. Before quantization the
/// same ops are float32 throughout: float32 activations, weights and bias
/// without quantization (weights may still be computed, e.g. by a
/// DEQUANTIZE in a QDQ graph; `fuse_qdq` or `fold_constants` make them
/// constant before anything lowers them).
pub(crate) fn conv_like_check(
    inputs: &[&Value],
    outputs: &[&Value],
    channel_axis: usize,
) -> Vec<String> {
    let mut e = Vec::new();
    let (Some(x), Some(w), Some(y)) = (inputs.first(), inputs.get(1), outputs.first()) else {
        return vec!["missing operands".into()];
    };
    if x.fact.dtype == DType::Float32 {
        expect_float(x, "input", &mut e);
        expect_float(y, "output", &mut e);
        expect_float(w, "weights", &mut e);
        if let Some(b) = inputs.get(2) {
            expect_float(b, "bias", &mut e);
        }
        return e;
    }
    expect_int8_per_tensor(x, "input", &mut e);
    expect_int8_per_tensor(y, "output", &mut e);
    if w.fact.dtype != DType::Int8 {
        e.push(format!(
            "weights `{}` must be int8, are {}",
            w.name, w.fact.dtype
        ));
    }
    if !w.is_const() {
        e.push(format!("weights `{}` must be constant", w.name));
    }
    match &w.fact.quant {
        None => e.push(format!("weights `{}` have no quantization", w.name)),
        Some(q) => {
            let channels = w.fact.shape.get(channel_axis).copied().unwrap_or(0);
            if !q.is_per_tensor() && (q.scale.len() != channels || q.axis != channel_axis) {
                e.push(format!(
                    "weights `{}`: {} scales on axis {}, expected 1 or {} on axis {}",
                    w.name,
                    q.scale.len(),
                    q.axis,
                    channels,
                    channel_axis
                ));
            }
            if q.zero_point.iter().any(|&z| z != 0) {
                e.push(format!("weights `{}` must have zero point 0", w.name));
            }
        }
    }
    if let Some(b) = inputs.get(2) {
        if b.fact.dtype != DType::Int32 {
            e.push(format!(
                "bias `{}` must be int32, is {}",
                b.name, b.fact.dtype
            ));
        }
        if !b.is_const() {
            e.push(format!("bias `{}` must be constant", b.name));
        }
    }
    e
}
