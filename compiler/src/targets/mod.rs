//! Targets as data: one TOML file per microcontroller in
//! `compiler/targets/`, embedded in the binary so `mcuc` and `build.rs`
//! users need no extra files.
//!
//! A target names its core, Rust target triple and codegen flags, its flash
//! and SRAM regions (the first RAM region holds the stack and statics; the
//! memory planner spills to the others, fastest first, when the first is
//! too small), and the QEMU machine that emulates its core, if any.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const BUILTIN: &[(&str, &str)] = &[
    ("f412", include_str!("../../targets/f412.toml")),
    ("f746", include_str!("../../targets/f746.toml")),
    ("h743", include_str!("../../targets/h743.toml")),
    ("nrf52840", include_str!("../../targets/nrf52840.toml")),
    ("rp2040", include_str!("../../targets/rp2040.toml")),
];

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub origin: u64,
    pub length: u64,
    /// Where QEMU's machine has RAM for this region, if it has (the first
    /// region uses `qemu.ram_origin`). Without it, the QEMU memory map
    /// leaves the region out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu_origin: Option<u64>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Flash {
    pub origin: u64,
    pub length: u64,
}

/// How QEMU emulates the target's core (its memory map differs from the
/// device's: flash at 0, RAM at 0x2000_0000).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    pub machine: String,
    pub flash_origin: u64,
    pub ram_origin: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub description: String,
    pub core: String,
    pub triple: String,
    pub rustflags: Vec<String>,
    /// ARMv7E-M DSP extension (SMLAD and friends).
    pub dsp: bool,
    pub fpu: String,
    /// Bytes reserved for the stack at the top of the first RAM region.
    pub stack_bytes: u64,
    pub flash: Flash,
    pub ram: Vec<Region>,
    pub qemu: Option<Qemu>,
}

/// Which memory map a `memory.x` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryMap {
    /// The real device's addresses.
    Device,
    /// QEMU's machine for the core (same sizes, QEMU's origins).
    Qemu,
}

impl Target {
    /// A built-in target by name.
    pub fn builtin(name: &str) -> Result<Target> {
        let (_, src) =
            BUILTIN
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| Error::UnknownTarget {
                    name: name.to_string(),
                    known: names().join(", "),
                })?;
        Target::from_toml(src, name)
    }

    /// Parses a target description (e.g. a user's own TOML file).
    pub fn from_toml(src: &str, origin: &str) -> Result<Target> {
        let t: Target = toml::from_str(src).map_err(|e| Error::Target {
            message: format!("target `{origin}`: {e}"),
        })?;
        if t.ram.is_empty() {
            return Err(Error::Target {
                message: format!("target `{origin}` declares no RAM region"),
            });
        }
        if t.stack_bytes >= t.ram[0].length {
            return Err(Error::Target {
                message: format!(
                    "target `{origin}`: stack_bytes {} does not fit RAM region {} ({} bytes)",
                    t.stack_bytes, t.ram[0].name, t.ram[0].length
                ),
            });
        }
        Ok(t)
    }

    /// Total SRAM bytes over all regions.
    pub fn sram_bytes(&self) -> u64 {
        self.ram.iter().map(|r| r.length).sum()
    }

    /// The regions the memory planner may use, in the order of the TOML
    /// (fastest first): the first minus the stack, the others whole.
    pub fn plan_regions(&self) -> Vec<crate::plan::RegionSpec> {
        self.ram
            .iter()
            .enumerate()
            .map(|(i, r)| crate::plan::RegionSpec {
                name: r.name.clone(),
                capacity: usize::try_from(if i == 0 {
                    self.static_ram_bytes()
                } else {
                    r.length
                })
                .ok(),
            })
            .collect()
    }

    /// SRAM available for statics (arena) in the first region, after the stack.
    pub fn static_ram_bytes(&self) -> u64 {
        self.ram[0].length - self.stack_bytes
    }

    /// A cortex-m-rt `memory.x` for this target. The first RAM region is
    /// shortened by the stack reservation and the stack placed above it, so
    /// the linker itself refuses statics (the arena) that leave no room for
    /// the stack.
    pub fn memory_x(&self, map: MemoryMap) -> Result<String> {
        let (flash_origin, ram_origin) = match map {
            MemoryMap::Device => (self.flash.origin, self.ram[0].origin),
            MemoryMap::Qemu => {
                let q = self.qemu.as_ref().ok_or_else(|| Error::Target {
                    message: format!("target `{}` has no QEMU machine", self.name),
                })?;
                (q.flash_origin, q.ram_origin)
            }
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "/* @generated by mcuc for target {} ({:?} memory map). */",
            self.name, map
        );
        let _ = writeln!(s, "MEMORY\n{{");
        let _ = writeln!(
            s,
            "  FLASH : ORIGIN = {:#010x}, LENGTH = {}",
            flash_origin, self.flash.length
        );
        let _ = writeln!(
            s,
            "  RAM : ORIGIN = {:#010x}, LENGTH = {}",
            ram_origin,
            self.static_ram_bytes()
        );
        let extra: Vec<(&Region, u64)> = self.ram[1..]
            .iter()
            .filter_map(|r| match map {
                MemoryMap::Device => Some((r, r.origin)),
                MemoryMap::Qemu => r.qemu_origin.map(|o| (r, o)),
            })
            .collect();
        for (r, origin) in &extra {
            let _ = writeln!(
                s,
                "  {} : ORIGIN = {:#010x}, LENGTH = {}",
                r.name, origin, r.length
            );
        }
        let _ = writeln!(s, "}}\n");
        if !extra.is_empty() {
            let _ = writeln!(
                s,
                "/* Arena parts the planner puts in the other regions (uninitialized). */"
            );
            let _ = writeln!(s, "SECTIONS\n{{");
            for (r, _) in &extra {
                let sec = crate::codegen::names::region_section(&r.name);
                let _ = writeln!(
                    s,
                    "  {sec} (NOLOAD) : ALIGN(16)\n  {{\n    *({sec} {sec}.*);\n    . = ALIGN(16);\n  }} > {}",
                    r.name
                );
            }
            let _ = writeln!(s, "}} INSERT AFTER .bss;\n");
        }
        let _ = writeln!(
            s,
            "/* The stack ({} bytes) sits above RAM and grows down towards it. */",
            self.stack_bytes
        );
        let _ = writeln!(
            s,
            "_stack_start = ORIGIN(RAM) + LENGTH(RAM) + {};",
            self.stack_bytes
        );
        Ok(s)
    }
}

/// Names of the built-in targets.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// All built-in targets.
pub fn builtin_targets() -> Result<Vec<Target>> {
    names().into_iter().map(Target::builtin).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_target_parses() {
        let all = builtin_targets().expect("targets parse");
        assert_eq!(all.len(), 5);
        let f746 = Target::builtin("f746").expect("f746");
        assert_eq!(f746.sram_bytes(), 320 * 1024);
        assert_eq!(f746.flash.length, 1024 * 1024);
        assert_eq!(
            f746.qemu.as_ref().map(|q| q.machine.as_str()),
            Some("mps2-an500")
        );
        let h743 = Target::builtin("h743").expect("h743");
        assert_eq!(h743.ram[0].length, 128 * 1024);
        assert!(h743.ram.len() > 1);
        let rp = Target::builtin("rp2040").expect("rp2040");
        assert!(!rp.dsp && rp.qemu.is_none() && rp.triple == "thumbv6m-none-eabi");
    }

    #[test]
    fn unknown_target_lists_the_known_ones() {
        let e = Target::builtin("esp32").unwrap_err().to_string();
        assert!(
            e.contains("esp32") && e.contains("f746") && e.contains("rp2040"),
            "{e}"
        );
    }

    #[test]
    fn memory_x_reserves_the_stack_above_ram() {
        let t = Target::builtin("f746").expect("f746");
        let m = t.memory_x(MemoryMap::Qemu).expect("qemu map");
        assert!(
            m.contains("FLASH : ORIGIN = 0x00000000, LENGTH = 1048576"),
            "{m}"
        );
        assert!(
            m.contains(&format!(
                "RAM : ORIGIN = 0x20000000, LENGTH = {}",
                327680 - 8192
            )),
            "{m}"
        );
        assert!(
            m.contains("_stack_start = ORIGIN(RAM) + LENGTH(RAM) + 8192;"),
            "{m}"
        );
        let d = t.memory_x(MemoryMap::Device).expect("device map");
        assert!(d.contains("FLASH : ORIGIN = 0x08000000"), "{d}");
        assert!(
            !d.contains("SECTIONS"),
            "one region: no extra sections\n{d}"
        );
        assert!(
            Target::builtin("rp2040")
                .expect("rp")
                .memory_x(MemoryMap::Qemu)
                .is_err()
        );
    }

    #[test]
    fn extra_regions_get_sections_on_the_device_and_under_qemu() {
        let h = Target::builtin("h743").expect("h743");
        let d = h.memory_x(MemoryMap::Device).expect("device map");
        assert!(
            d.contains("AXISRAM : ORIGIN = 0x24000000, LENGTH = 524288"),
            "{d}"
        );
        assert!(
            d.contains(".mcuc.axisram (NOLOAD)") && d.contains("} > AXISRAM"),
            "{d}"
        );
        assert!(d.contains("INSERT AFTER .bss;"), "{d}");
        // QEMU's mps2-an500 has 4 MB of RAM at 0x2000_0000: the regions sit in it.
        let q = h.memory_x(MemoryMap::Qemu).expect("qemu map");
        assert!(
            q.contains("AXISRAM : ORIGIN = 0x20100000, LENGTH = 524288"),
            "{q}"
        );
        let regions = h.plan_regions();
        assert_eq!(regions.len(), 4);
        assert_eq!(regions[0].capacity, Some(128 * 1024 - 8192));
        assert_eq!(regions[1].capacity, Some(512 * 1024));
    }

    #[test]
    fn bad_target_files_are_errors() {
        assert!(Target::from_toml("name = 1", "x").is_err());
        let f746 = include_str!("../../targets/f746.toml");
        let typo = f746.replace("stack_bytes", "stack_size");
        let e = Target::from_toml(&typo, "typo").unwrap_err().to_string();
        assert!(e.contains("typo"), "{e}");
    }
}
