//! MEAN over a set of axes of an int8 tensor (requantizing).

use super::{OpDef, expect_float_or_int8};
use crate::ir::{DType, Fact, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Mean {
    /// Reduced axes, sorted, deduplicated, non-negative.
    pub axes: Vec<usize>,
    pub keep_dims: bool,
}

impl OpDef for Mean {
    fn name(&self) -> &'static str {
        "MEAN"
    }

    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<(Vec<usize>, DType)>, String> {
        let [x] = inputs else {
            return Err(format!("takes 1 data input, got {}", inputs.len()));
        };
        if let Some(&a) = self.axes.iter().find(|&&a| a >= x.rank()) {
            return Err(format!("axis {a} out of range for rank {}", x.rank()));
        }
        let shape = x
            .shape
            .iter()
            .enumerate()
            .filter_map(|(i, &d)| match (self.axes.contains(&i), self.keep_dims) {
                (false, _) => Some(d),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        Ok(vec![(shape, x.dtype)])
    }

    fn check(&self, inputs: &[&Value], outputs: &[&Value]) -> Vec<String> {
        let mut e = Vec::new();
        expect_float_or_int8(inputs, outputs, &mut e);
        e
    }

    fn summary(&self, _inputs: &[&Fact]) -> String {
        format!(
            "axes={:?}{}",
            self.axes,
            if self.keep_dims { " keep_dims" } else { "" }
        )
    }
}
