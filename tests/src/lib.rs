//! Shared harness for mcuc integration tests and the xtask.

pub mod qemu;
