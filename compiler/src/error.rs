//! The one error type of mcuc.
//!
//! Anything that comes from a model file, an `.npy`, a TOML or a `build.rs`
//! argument is reported through [`Error`], never a panic. Every variant names
//! the thing that was wrong (node, tensor, file) and what was expected.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("{path}: {err}")]
    #[diagnostic(code(mcuc::io))]
    Io { path: PathBuf, err: std::io::Error },

    #[error("{path}: not a valid {format} model: {reason}")]
    #[diagnostic(code(mcuc::corrupt_model))]
    CorruptModel {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },

    #[error("unsupported operator {op} at operator index {index} (node `{node}`)")]
    #[diagnostic(code(mcuc::unsupported_op), help("supported operators: {supported}"))]
    UnsupportedOp {
        index: usize,
        op: String,
        node: String,
        supported: String,
    },

    #[error("operator {op} `{node}`: unsupported {attr} = {value} (expected {expected})")]
    #[diagnostic(code(mcuc::unsupported_attr))]
    UnsupportedAttr {
        node: String,
        op: String,
        attr: String,
        value: String,
        expected: String,
    },

    #[error("operator {op} `{node}`: {message}")]
    #[diagnostic(code(mcuc::invalid_node))]
    InvalidNode {
        node: String,
        op: String,
        message: String,
    },

    #[error("tensor `{tensor}`: {message}")]
    #[diagnostic(code(mcuc::invalid_tensor))]
    InvalidTensor { tensor: String, message: String },

    #[error("{path}: {message}")]
    #[diagnostic(code(mcuc::npy))]
    Npy { path: PathBuf, message: String },

    #[error("model input/output mismatch: {message}")]
    #[diagnostic(code(mcuc::io_mismatch))]
    IoMismatch { message: String },

    #[error("IR verification failed after `{stage}`:\n{}", .errors.join("\n"))]
    #[diagnostic(code(mcuc::verify))]
    Verify { stage: String, errors: Vec<String> },

    #[error("unknown target `{name}` (known: {known})")]
    #[diagnostic(code(mcuc::unknown_target), help("run `mcuc targets` to list them"))]
    UnknownTarget { name: String, known: String },

    #[error("{message}")]
    #[diagnostic(code(mcuc::target))]
    Target { message: String },

    #[error("{message}")]
    #[diagnostic(code(mcuc::does_not_fit))]
    DoesNotFit { message: String },

    #[error("{message}")]
    #[diagnostic(code(mcuc::usage))]
    Usage { message: String },
}

impl Error {
    /// Process exit code for the CLI: 3 when the model does not fit the
    /// target, 2 for every other error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::DoesNotFit { .. } => 3,
            _ => 2,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            err: source,
        }
    }

    pub(crate) fn node(node: &str, op: &str, message: impl Into<String>) -> Self {
        Error::InvalidNode {
            node: node.to_string(),
            op: op.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn tensor(tensor: &str, message: impl Into<String>) -> Self {
        Error::InvalidTensor {
            tensor: tensor.to_string(),
            message: message.into(),
        }
    }
}
