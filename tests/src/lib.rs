//! Shared harness for mcuc integration tests and the xtask: the model corpus,
//! golden comparison, and the QEMU runner.

pub mod corpus;
pub mod generated;
pub mod qemu;
