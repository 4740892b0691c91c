//! Multi-region plans under QEMU: a corpus model too big for the STM32H743's
//! DTCM alone is spread by the planner over DTCM and AXI SRAM, its generated
//! code builds for thumbv7em with a `memory.x` that places the AXI part of
//! the arena in its own section, and it runs bit-exact on every golden.
//!
//! QEMU's `mps2-an500` (Cortex-M7) has 4 MB of RAM at 0x2000_0000; the h743
//! target maps its regions into it (`qemu_origin` in
//! `compiler/targets/h743.toml`), so the split arena is real memory there.

use mcuc::npy;
use mcuc_tests::corpus;
use mcuc_tests::qemu::{self, BuildOptions, QemuTarget, RunOptions};

#[test]
fn h743_spreads_a_model_over_dtcm_and_axi_sram_and_stays_bit_exact() {
    let t = mcuc::Target::builtin("h743").expect("h743");
    let target = QemuTarget::builtin("h743").expect("h743");
    let dtcm = t.static_ram_bytes() as usize;
    let models = corpus::models(&corpus::root()).expect("corpus");
    // The first model whose one-region arena exceeds the DTCM.
    let found = models.iter().find_map(|m| {
        let g = mcuc::pipeline::load(&m.model).ok()?;
        let one = mcuc::plan::plan(&g, &mcuc::plan::PlanOptions::default()).ok()?;
        (one.arena_bytes > dtcm).then_some((m, g, one.arena_bytes))
    });
    let Some((m, g, one_region)) = found else {
        panic!(
            "the corpus needs a model whose arena exceeds the h743 DTCM ({dtcm} B); the bundled mbv2_035_144 does"
        );
    };
    let (_, report) = mcuc::pipeline::plan(&g, &t, &mcuc::Options::default())
        .unwrap_or_else(|e| panic!("{}: does not fit DTCM + AXI SRAM: {e}", m.id));
    let regions = &report.regions;
    println!(
        "{}: one region {one_region} B; {}",
        m.id,
        regions
            .iter()
            .map(|r| format!("{} {} B", r.name, r.arena_bytes))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(regions[0].name, "DTCM");
    assert!(regions[0].arena_bytes > 0 && regions[0].arena_bytes <= dtcm);
    assert!(
        regions[1].arena_bytes > 0,
        "{}: nothing went to AXI SRAM",
        m.id
    );
    for r in regions {
        assert!(r.capacity.is_none_or(|c| r.arena_bytes <= c), "{r:?}");
    }

    let generated = qemu::pregenerate(&m.model, &target, true).expect("generate");
    let fw = qemu::build_firmware(&generated.source, &target, &BuildOptions::default())
        .unwrap_or_else(|e| panic!("{}: the firmware does not build: {e}", m.id));
    assert_eq!(
        fw.elf.section_size(".mcuc.axisram"),
        regions[1].arena_bytes as u64,
        "the AXI SRAM part of the arena is its own section"
    );
    assert!(
        fw.ram <= regions[0].arena_bytes as u64 + 64,
        "static RAM {} B besides the DTCM arena {} B",
        fw.ram,
        regions[0].arena_bytes
    );
    let mut checked = 0;
    for golden in &m.goldens {
        let inputs: Vec<_> = golden
            .inputs
            .iter()
            .map(|p| npy::read(p).expect("golden input"))
            .collect();
        let run = qemu::run_firmware(&fw, &target, &inputs, &RunOptions::default())
            .unwrap_or_else(|e| panic!("{} [{}]: {e}", m.id, golden.name));
        for (i, (got, path)) in run.outputs.iter().zip(&golden.outputs).enumerate() {
            let want = npy::read(path).expect("golden output");
            assert_eq!(
                (&got.data, &got.shape),
                (&want.data, &want.shape),
                "{} [{}] output {i} differs",
                m.id,
                golden.name
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "{} has no goldens", m.id);
}
