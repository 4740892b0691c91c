//! Kernel templates for mcuc.
//!
//! Every kernel exists once, here, as real `no_std` Rust. Two consumers use it:
//!
//! - the **host executor** (`mcuc run`) calls the functions directly with
//!   runtime parameters (this crate with feature `host`);
//! - the **code generator** parses each template file with `syn`, replaces
//!   every `p.<field>` with a constant of that layer, renames the function
//!   and emits it into the generated model, so the firmware runs the very
//!   code the host tests exercised.
//!
//! ## Template conventions (the specializer relies on them)
//!
//! One file per operator. Each kernel is a `pub fn <kernel>(p: &<Kernel>Params, ...)`:
//! - `<Kernel>Params` is a plain struct in the same file whose fields are
//!   scalars only (`usize`, `i32`, `bool`, ...). Per-channel data (weights,
//!   biases, multipliers, shifts) are separate slice arguments.
//! - The body reads parameters only as `p.<field>` (never destructures `p`
//!   or passes it on), so substituting constants is a purely syntactic step.
//! - Helpers are called by full path (`mcuc_runtime::fixed::...`, `core::...`)
//!   or are other `pub fn`s of the same file listed in its `HELPERS` docs, so
//!   the copied function needs no `use` items.
//! - No `unsafe`, no allocation, no formatting, no explicit panics.
//!
//! The `prepare` module (feature `host`) turns model quantization (float
//! scales) into these params exactly as TFLite's `Prepare` functions do.
#![cfg_attr(not(feature = "host"), no_std)]
