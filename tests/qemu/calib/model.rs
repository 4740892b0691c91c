// Calibration model for the QEMU harness tests (tests/tests/qemu_smoke.rs).
//
// Hand-written, in the shape `mcuc::Build` generates: a `Model` type with
// `pub const fn new()` implementing `mcuc_runtime::Model`. Its kernels are
// assembly with a known instruction count, so the tests can check the
// instruction counter and the stack measurement exactly:
//
// input 0 "x", int8 [2,4]:
//   x[0] (as u8) = k: the spin loop runs 3 + 2k instructions, so
//                     insns(k) - insns(0) == 2k exactly;
//   x[1] (as u8) selects a trap: 0x7f `udf` (HardFault), 0x7e endless loop
//                     (timeout), 0x7d stack pointer below RAM (lockup);
//   x[2] (as u8) = d: a leaf routine moves SP down by 8 + 64*d bytes and
//                     writes there, so stack(d) - stack(0) == 64*d exactly.
// input 1 "f", float32 [3].
// output 0 "y", int8 [2,4] = x + 1 (wrapping)      (7 instructions a byte)
// output 1 "g", float32 [3] = 2 * f
use mcuc_runtime::{DType, TensorInfo};

const X: (usize, usize) = (0, 8);
const F: (usize, usize) = (8, 12);
const Y: (usize, usize) = (20, 8);
const G: (usize, usize) = (28, 12);
const ARENA: usize = 40;

pub struct Model {
    arena: [u8; ARENA],
}

impl Model {
    pub const fn new() -> Self {
        Self { arena: [0; ARENA] }
    }
}

unsafe extern "C" {
    fn mcuc_calib_spin(k: u32);
    fn mcuc_calib_trap(mode: u32);
    fn mcuc_calib_stack(extra: u32);
    fn mcuc_calib_add1(src: *const u8, dst: *mut u8, n: u32);
}

core::arch::global_asm!(
    ".section .text.mcuc_calib,\"ax\",%progbits",
    ".p2align 1",
    ".thumb",
    // r0 = k: 3 + 2k instructions.
    ".global mcuc_calib_spin",
    ".type mcuc_calib_spin,%function",
    ".thumb_func",
    "mcuc_calib_spin:",
    "    cmp r0, #0",
    "    beq 1f",
    "0:  subs r0, r0, #1",
    "    bne 0b",
    "1:  bx lr",
    ".size mcuc_calib_spin, . - mcuc_calib_spin",
    // r0 = mode: 0x7f udf, 0x7e hang, 0x7d SP below RAM; else return.
    ".global mcuc_calib_trap",
    ".type mcuc_calib_trap,%function",
    ".thumb_func",
    "mcuc_calib_trap:",
    "    cmp r0, #0x7f",
    "    bne 2f",
    "    udf #0",
    "2:  cmp r0, #0x7e",
    "    bne 3f",
    "5:  b 5b",
    "3:  cmp r0, #0x7d",
    "    bne 4f",
    "    movs r1, #1",
    "    lsls r1, r1, #29",
    "    mov sp, r1",
    "    push {{r0}}",
    "4:  bx lr",
    ".size mcuc_calib_trap, . - mcuc_calib_trap",
    // r0 = extra bytes (multiple of 8): moves SP down by 8 + extra, writes the
    // lowest word, restores SP. 7 instructions whatever r0 is.
    ".global mcuc_calib_stack",
    ".type mcuc_calib_stack,%function",
    ".thumb_func",
    "mcuc_calib_stack:",
    "    adds r0, r0, #8",
    "    mov r1, sp",
    "    subs r1, r1, r0",
    "    mov sp, r1",
    "    str r0, [r1]",
    "    add sp, r0",
    "    bx lr",
    ".size mcuc_calib_stack, . - mcuc_calib_stack",
    // r0 = src, r1 = dst, r2 = n > 0: dst[i] = src[i] + 1, 7n + 1 instructions.
    ".global mcuc_calib_add1",
    ".type mcuc_calib_add1,%function",
    ".thumb_func",
    "mcuc_calib_add1:",
    "0:  ldrb r3, [r0]",
    "    adds r3, r3, #1",
    "    strb r3, [r1]",
    "    adds r0, r0, #1",
    "    adds r1, r1, #1",
    "    subs r2, r2, #1",
    "    bne 0b",
    "    bx lr",
    ".size mcuc_calib_add1, . - mcuc_calib_add1",
    ".text",
);

impl mcuc_runtime::Model for Model {
    const INPUTS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "x",
            shape: &[2, 4],
            dtype: DType::Int8,
            bytes: X.1,
            scale: 0.5,
            zero_point: -3,
        },
        TensorInfo {
            name: "f",
            shape: &[3],
            dtype: DType::Float32,
            bytes: F.1,
            scale: 0.0,
            zero_point: 0,
        },
    ];
    const OUTPUTS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "y",
            shape: &[2, 4],
            dtype: DType::Int8,
            bytes: Y.1,
            scale: 0.5,
            zero_point: -2,
        },
        TensorInfo {
            name: "g",
            shape: &[3],
            dtype: DType::Float32,
            bytes: G.1,
            scale: 0.0,
            zero_point: 0,
        },
    ];
    const ARENA_BYTES: usize = ARENA;

    fn input_bytes_mut(&mut self, index: usize) -> &mut [u8] {
        match index {
            0 => &mut self.arena[X.0..X.0 + X.1],
            1 => &mut self.arena[F.0..F.0 + F.1],
            _ => &mut [],
        }
    }

    fn output_bytes(&self, index: usize) -> &[u8] {
        match index {
            0 => &self.arena[Y.0..Y.0 + Y.1],
            1 => &self.arena[G.0..G.0 + G.1],
            _ => &[],
        }
    }

    fn invoke(&mut self) {
        let a = &mut self.arena;
        let (k, trap, depth) = (a[X.0] as u32, a[X.0 + 1] as u32, a[X.0 + 2] as u32);
        // SAFETY: the routines touch only registers, their own stack, and
        // (add1) the X and Y ranges of the arena, which are in bounds and do
        // not overlap.
        unsafe {
            mcuc_calib_spin(k);
            mcuc_calib_trap(trap);
            mcuc_calib_stack(64 * depth);
            mcuc_calib_add1(a.as_ptr().add(X.0), a.as_mut_ptr().add(Y.0), X.1 as u32);
        }
        for i in 0..3 {
            let at = F.0 + 4 * i;
            let f = f32::from_le_bytes([a[at], a[at + 1], a[at + 2], a[at + 3]]);
            let out = G.0 + 4 * i;
            a[out..out + 4].copy_from_slice(&(2.0 * f).to_le_bytes());
        }
    }
}
