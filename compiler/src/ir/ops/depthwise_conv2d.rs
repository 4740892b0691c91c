//! DEPTHWISE_CONV_2D: `[1,H,W,C] * [1,KH,KW,C*M] + bias -> [1,OH,OW,C*M]`.

use super::conv2d::conv_like_check;
use super::{Activation, InPlace, OpDef, Padding, geometry_summary, window_out};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct DepthwiseConv2d {
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub pad: Padding,
    pub depth_multiplier: usize,
    pub act: Activation,
}

impl OpDef for DepthwiseConv2d {
    fn name(&self) -> &'static str {
        "DEPTHWISE_CONV_2D"
    }

    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let (x, w) = match inputs {
            [x, w] | [x, w, _] => (x, w),
            _ => return Err(format!("takes 2 or 3 inputs, got {}", inputs.len())),
        };
        let (&[1, h, wd, cin], &[1, kh, kw, cout]) = (&x.shape[..], &w.shape[..]) else {
            return Err(format!(
                "expects input [1,H,W,C] and filter [1,KH,KW,C*M], got {:?} and {:?}",
                x.shape, w.shape
            ));
        };
        if cout != cin * self.depth_multiplier {
            return Err(format!(
                "filter channels {cout} != input channels {cin} x depth multiplier {}",
                self.depth_multiplier
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
        conv_like_check(inputs, outputs, 3)
    }

    /// With depth multiplier 1, output channel `c` lands only on bytes of
    /// input channel `c` (index `c` modulo the channel count), in NHWC for
    /// any stride, padding and dilation. The kernel computes one output
    /// channel into a scratch plane of `OH x OW` bytes, then scatters it over
    /// the input channel it no longer needs.
    fn in_place(&self, inputs: &[&Fact], outputs: &[&Fact]) -> Vec<InPlace> {
        let (Some(x), [y]) = (inputs.first(), outputs) else {
            return Vec::new();
        };
        match (&x.shape[..], &y.shape[..]) {
            (&[1, _, _, c], &[1, oh, ow, oc])
                if self.depth_multiplier == 1
                    && c == oc
                    && x.dtype == DType::Int8
                    && y.dtype == DType::Int8
                    && y.elements() <= x.elements() =>
            {
                vec![InPlace {
                    input: 0,
                    output: 0,
                    scratch_bytes: oh * ow,
                }]
            }
            _ => Vec::new(),
        }
    }

    fn macs(&self, inputs: &[&Fact], outputs: &[&Fact]) -> u64 {
        let w = &inputs[1].shape;
        (outputs[0].elements() * w[1] * w[2]) as u64
    }

    fn summary(&self, inputs: &[&Fact]) -> String {
        let w = &inputs[1].shape;
        let mut s = geometry_summary([w[1], w[2]], self.stride, self.dilation, &self.pad);
        if self.depth_multiplier != 1 {
            s.push_str(&format!(" m={}", self.depth_multiplier));
        }
        s + self.act.suffix()
    }
}
