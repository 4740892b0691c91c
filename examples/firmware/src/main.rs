//! Test firmware: runs one mcuc-generated model once under QEMU.
//!
//! Everything model-specific comes from `$OUT_DIR/model.rs` (see `build.rs`),
//! used only through the `mcuc_runtime::Model` trait, so this file never
//! changes with the model.
//!
//! Protocol. The semihosting command line is the `-kernel` path, a space, then
//! the `-append` text, whose space-separated words are:
//! - `describe`: print one `mcuc-tensor` line per input and output, exit 0.
//! - `i=PATH` (once per input, in model order) and `o=PATH` (once per output):
//!   read each input file (raw little-endian bytes, exactly the tensor's size)
//!   into the model, run one inference between the markers
//!   [`mcuc_mark_start`] and [`mcuc_mark_end`], write each output's raw bytes.
//!
//! Lines printed on semihosting stdout:
//! - `mcuc-tensor in|out INDEX DTYPE [D0,D1,..] BYTES SCALE_BITS ZERO_POINT NAME`
//! - `mcuc-done stack=S stack_total=T arena=A` on success, where `S` is the
//!   peak stack of the inference alone (bytes below the caller's SP) and `T`
//!   the peak measured from the top of RAM, both by stack painting.
//! - `mcuc-error: MESSAGE` or `HardFault pc=0x...`, then exit with failure.
#![no_std]
#![no_main]

use core::arch::naked_asm;
use core::hint::black_box;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hprint, hprintln, nr, syscall, syscall1};
use mcuc_runtime::{DType, Model as _, TensorInfo};
use panic_semihosting as _;

mcuc_runtime::include_model!(model);

type Net = model::Model;

/// The model, with its arena, in `.bss` (`Net::new()` is a `const fn`).
static mut MODEL: Net = Net::new();

/// Written over the free stack before the inference; the lowest word that no
/// longer holds it marks the peak stack use.
const PAINT: u32 = 0xDEAD_C0DE;
/// Most inputs plus outputs a command line may name.
const MAX_FILES: usize = 32;

unsafe extern "C" {
    /// End of `.bss`/`.uninit`, the lowest address the stack may reach.
    static mut __sheap: u32;
    /// Initial stack pointer (top of RAM).
    static _stack_start: u32;
}

/// Start marker: the instruction counter snapshots at its first instruction.
///
/// Naked (`nop; bx lr`), so it touches no stack and costs a fixed two
/// instructions; its body differs from [`mcuc_mark_end`] so the linker cannot
/// fold the two into one address. The counted window is therefore exactly
/// these 2 instructions, `bl infer`, everything `infer` executes, and the
/// `bl mcuc_mark_end`: `infer` + 4.
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub extern "C" fn mcuc_mark_start() {
    naked_asm!("nop", "bx lr")
}

/// End marker, see [`mcuc_mark_start`].
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub extern "C" fn mcuc_mark_end() {
    naked_asm!("nop", "nop", "bx lr")
}

/// Marker that the run failed; the message was already printed.
struct Failed;

macro_rules! fail {
    ($($arg:tt)*) => {{
        hprint!("mcuc-error: ");
        hprintln!($($arg)*);
        return Err(Failed);
    }};
}

#[entry]
fn main() -> ! {
    let status = match run() {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(Failed) => debug::EXIT_FAILURE,
    };
    debug::exit(status);
    loop {
        cortex_m::asm::bkpt();
    }
}

fn run() -> Result<(), Failed> {
    // Kept on the stack, not in .bss, so the harness's buffers do not count
    // towards the static RAM reported for the model.
    let mut line = [0u8; 1024];
    let line = cmdline(&mut line)?;

    let mut inputs: [&[u8]; MAX_FILES] = [&[]; MAX_FILES];
    let mut outputs: [&[u8]; MAX_FILES] = [&[]; MAX_FILES];
    let (mut n_in, mut n_out) = (0, 0);
    // The first word is the kernel path.
    for word in line.split(|&b| b == b' ').filter(|w| !w.is_empty()).skip(1) {
        if word == b"describe" {
            describe();
            return Ok(());
        } else if let Some(path) = word.strip_prefix(b"i=") {
            if n_in == MAX_FILES {
                fail!("more than {} inputs on the command line", MAX_FILES);
            }
            inputs[n_in] = path;
            n_in += 1;
        } else if let Some(path) = word.strip_prefix(b"o=") {
            if n_out == MAX_FILES {
                fail!("more than {} outputs on the command line", MAX_FILES);
            }
            outputs[n_out] = path;
            n_out += 1;
        } else {
            fail!("unknown argument '{}'", Text(word));
        }
    }
    if n_in != Net::INPUTS.len() || n_out != Net::OUTPUTS.len() {
        fail!(
            "the model has {} inputs and {} outputs, the command line names {} and {}",
            Net::INPUTS.len(),
            Net::OUTPUTS.len(),
            n_in,
            n_out
        );
    }

    // SAFETY: `MODEL` is touched only here, once, on the only thread (no
    // interrupt handler uses it), so this is the sole reference to it.
    let net: &mut Net = unsafe { &mut *(&raw mut MODEL) };

    for (index, path) in inputs[..n_in].iter().enumerate() {
        read_file(
            path,
            net.input_bytes_mut(index),
            "in",
            index,
            &Net::INPUTS[index],
        )?;
    }

    // Paint the free stack, then run exactly one inference between the
    // markers. `infer` is a separate, non-inlined function so its frame lies
    // below this one and is covered by the paint.
    let heap_start = &raw mut __sheap;
    let sp = paint_stack(heap_start, PAINT);
    mcuc_mark_start();
    infer(net);
    mcuc_mark_end();
    let lowest = scan_stack(heap_start, PAINT, sp);

    if lowest <= heap_start as usize {
        fail!(
            "stack overflow: the inference used all {} bytes between __sheap and the stack",
            sp - heap_start as usize
        );
    }

    for (index, path) in outputs[..n_out].iter().enumerate() {
        write_file(path, black_box(net.output_bytes(index)))?;
    }

    let top = &raw const _stack_start as usize;
    hprintln!(
        "mcuc-done stack={} stack_total={} arena={}",
        sp - lowest,
        top - lowest,
        Net::ARENA_BYTES
    );
    Ok(())
}

/// The measured region: one call to `invoke`, through `black_box` so LTO
/// cannot see what the inputs are.
#[inline(never)]
fn infer(net: &mut Net) {
    black_box(net).invoke();
}

/// Reads the semihosting command line into `buf`.
fn cmdline(buf: &mut [u8]) -> Result<&[u8], Failed> {
    // SYS_GET_CMDLINE writes the string and stores its length in word 1 of
    // the block, so the block must outlive the call (`syscall!` would pass a
    // temporary and lose the length).
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: the block describes `buf`, which is valid for writes of
    // `buf.len()` bytes; the host writes at most that many.
    let r = unsafe { syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) };
    if r != 0 {
        fail!("the command line does not fit in {} bytes", buf.len());
    }
    Ok(&buf[..block[1].min(buf.len())])
}

fn describe() {
    for (index, t) in Net::INPUTS.iter().enumerate() {
        print_tensor("in", index, t);
    }
    for (index, t) in Net::OUTPUTS.iter().enumerate() {
        print_tensor("out", index, t);
    }
}

fn print_tensor(kind: &str, index: usize, t: &TensorInfo) {
    let dtype = match t.dtype {
        DType::Int8 => "int8",
        DType::UInt8 => "uint8",
        DType::Int16 => "int16",
        DType::Int32 => "int32",
        DType::Float32 => "float32",
    };
    hprint!("mcuc-tensor {} {} {} [", kind, index, dtype);
    for (i, d) in t.shape.iter().enumerate() {
        if i > 0 {
            hprint!(",");
        }
        hprint!("{}", d);
    }
    hprintln!(
        "] {} {:#010x} {} {}",
        t.bytes,
        t.scale.to_bits(),
        t.zero_point,
        t.name
    );
}

/// Opens `path` (not NUL-terminated) with semihosting open mode `mode`.
fn open(path: &[u8], mode: usize) -> Result<usize, Failed> {
    let mut z = [0u8; 256];
    if path.len() >= z.len() {
        fail!("path too long: '{}'", Text(path));
    }
    z[..path.len()].copy_from_slice(path);
    // SAFETY: `z` is NUL-terminated and lives across the call; the length
    // argument excludes the NUL as SYS_OPEN expects.
    let fd = unsafe { syscall!(OPEN, z.as_ptr(), mode, path.len()) } as isize;
    if fd < 0 {
        fail!("cannot open '{}'", Text(path));
    }
    Ok(fd as usize)
}

fn close(fd: usize) {
    // SAFETY: `fd` came from a successful SYS_OPEN.
    unsafe { syscall!(CLOSE, fd) };
}

fn read_file(
    path: &[u8],
    dst: &mut [u8],
    kind: &str,
    index: usize,
    info: &TensorInfo,
) -> Result<(), Failed> {
    let fd = open(path, nr::open::R_BINARY)?;
    // SAFETY: `fd` is an open handle.
    let len = unsafe { syscall!(FLEN, fd) } as isize;
    if len < 0 || len as usize != dst.len() {
        close(fd);
        fail!(
            "{} {} ('{}') needs {} bytes, '{}' has {}",
            kind,
            index,
            info.name,
            dst.len(),
            Text(path),
            len
        );
    }
    // SAFETY: `dst` is valid for writes of `dst.len()` bytes, the count asked.
    let left = unsafe { syscall!(READ, fd, dst.as_mut_ptr(), dst.len()) };
    close(fd);
    if left != 0 {
        fail!("short read from '{}': {} bytes missing", Text(path), left);
    }
    Ok(())
}

fn write_file(path: &[u8], src: &[u8]) -> Result<(), Failed> {
    let fd = open(path, nr::open::W_TRUNC_BINARY)?;
    // SAFETY: `src` is valid for reads of `src.len()` bytes, the count given.
    let left = unsafe { syscall!(WRITE, fd, src.as_ptr(), src.len()) };
    close(fd);
    if left != 0 {
        fail!("short write to '{}': {} bytes missing", Text(path), left);
    }
    Ok(())
}

/// Fills every word from `from` up to (not including) the caller's stack
/// pointer with `pattern`, and returns that stack pointer.
///
/// Naked, so it uses no stack itself: the SP it sees is its caller's.
#[unsafe(naked)]
extern "C" fn paint_stack(from: *mut u32, pattern: u32) -> usize {
    naked_asm!(
        "mov r2, sp",
        "0:",
        "cmp r0, r2",
        "bhs 1f",
        "str r1, [r0]",
        "adds r0, r0, #4",
        "b 0b",
        "1:",
        "mov r0, r2",
        "bx lr",
    )
}

/// Returns the address of the first word at or above `from` (and below
/// `limit`) that no longer holds `pattern`, or `limit` if none changed.
/// Naked like [`paint_stack`], so the scan itself dirties no stack.
#[unsafe(naked)]
extern "C" fn scan_stack(from: *mut u32, pattern: u32, limit: usize) -> usize {
    naked_asm!(
        "0:",
        "cmp r0, r2",
        "bhs 1f",
        "ldr r3, [r0]",
        "cmp r3, r1",
        "bne 1f",
        "adds r0, r0, #4",
        "b 0b",
        "1:",
        "bx lr",
    )
}

/// Prints bytes from the command line as text without a UTF-8 check.
struct Text<'a>(&'a [u8]);

impl core::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            core::fmt::Write::write_char(f, if b.is_ascii() { b as char } else { '?' })?;
        }
        Ok(())
    }
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    hprintln!("HardFault pc={:#010x} lr={:#010x}", ef.pc(), ef.lr());
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::bkpt();
    }
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    hprintln!("mcuc-error: unexpected exception {}", irqn);
    debug::exit(debug::EXIT_FAILURE);
}
