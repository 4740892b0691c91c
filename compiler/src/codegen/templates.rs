//! Kernel template sources, embedded at compile time so `mcuc` (and
//! `build.rs` users) need no files besides the model.

use std::collections::BTreeMap;

use super::specialize::Template;
use crate::error::{Error, Result};

macro_rules! sources {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../../codegen-templates/src/", $file)))),*]
    };
}

const SOURCES: &[(&str, &str)] = sources![
    "add.rs",
    "concatenation.rs",
    "conv2d.rs",
    "copy.rs",
    "depthwise_conv2d.rs",
    "dequantize.rs",
    "fully_connected.rs",
    "logistic.rs",
    "mean.rs",
    "mul.rs",
    "pad.rs",
    "pool2d.rs",
    "quantize.rs",
    "relu.rs",
    "softmax.rs",
    "tanh.rs",
];

/// All templates, parsed (syn trees are not `Sync`, so each code
/// generation run parses its own copy; it takes a few milliseconds).
pub struct Templates {
    parsed: BTreeMap<&'static str, Template>,
}

impl Templates {
    pub fn load() -> Result<Templates> {
        let parsed = SOURCES
            .iter()
            .map(|(name, src)| Template::parse(name, src).map(|t| (*name, t)))
            .collect::<Result<_>>()?;
        Ok(Templates { parsed })
    }

    /// The template in `file`.
    pub fn get(&self, file: &str) -> Result<&Template> {
        self.parsed.get(file).ok_or_else(|| Error::Usage {
            message: format!("no kernel template named {file}"),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        let t = super::Templates::load().expect("templates parse");
        for (name, _) in super::SOURCES {
            t.get(name).expect("template present");
        }
    }
}
