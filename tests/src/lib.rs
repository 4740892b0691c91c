//! Shared harness for mcuc integration tests and the xtask.
