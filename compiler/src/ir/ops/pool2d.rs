//! AVERAGE_POOL_2D and MAX_POOL_2D over NHWC int8 tensors.

use super::{Activation, OpDef, Padding, expect_float_or_int8, geometry_summary, window_out};
use crate::ir::{DType, Fact, Value};

/// Window geometry shared by both pools.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool2d {
    pub filter: [usize; 2],
    pub stride: [usize; 2],
    pub pad: Padding,
    pub act: Activation,
}

impl Pool2d {
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let [x] = inputs else {
            return Err(format!("takes 1 input, got {}", inputs.len()));
        };
        let [1, h, w, c] = x.shape[..] else {
            return Err(format!("expects input [1,H,W,C], got {:?}", x.shape));
        };
        let oh = window_out(
            h,
            self.pad.top,
            self.pad.bottom,
            self.filter[0],
            self.stride[0],
            1,
        )?;
        let ow = window_out(
            w,
            self.pad.left,
            self.pad.right,
            self.filter[1],
            self.stride[1],
            1,
        )?;
        Ok(vec![(vec![1, oh, ow, c], x.dtype)])
    }

    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = Vec::new();
        expect_float_or_int8(inputs, outputs, &mut e);
        if let (Some(i), Some(o)) = (inputs.first(), outputs.first())
            && i.fact.quant != o.fact.quant
        {
            e.push("input and output quantization must be equal".into());
        }
        e
    }

    fn summary(&self) -> String {
        format!(
            "{}{}",
            geometry_summary(self.filter, self.stride, [1, 1], &self.pad),
            self.act.suffix()
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AvgPool2d(pub Pool2d);

impl OpDef for AvgPool2d {
    fn name(&self) -> &'static str {
        "AVERAGE_POOL_2D"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        self.0.infer(inputs)
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        self.0.check(inputs, outputs)
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        self.0.summary()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool2d(pub Pool2d);

impl OpDef for MaxPool2d {
    fn name(&self) -> &'static str {
        "MAX_POOL_2D"
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        self.0.infer(inputs)
    }
    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        self.0.check(inputs, outputs)
    }
    fn summary(&self, _inputs: &[&Fact]) -> String {
        self.0.summary()
    }
}
