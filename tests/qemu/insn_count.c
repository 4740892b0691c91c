/*
 * insn_count.c — TCG plugin that counts guest instructions between two
 * marker addresses (QEMU plugin API version 1, as in QEMU 7.2).
 *
 * Invariant: the reported count is exact and repeatable. Every translated
 * instruction gets an inline 64-bit add (exact even when a translation block
 * exits early, unlike a per-TB add), and the two marker instructions also get
 * a callback that snapshots the counter.
 *
 * Arguments (each "key=value"):
 *   start=0x...   address of the first instruction of the start marker
 *   end=0x...     address of the first instruction of the end marker
 *   out=PATH      file that receives the result at exit
 * Bit 0 (the Thumb bit) of the addresses is ignored.
 *
 * Result file, one line:
 *   insns=N start_hits=A end_hits=B total=T
 * N = counter(at end marker) - counter(at start marker), taken at the *last*
 * start hit that precedes the first end hit after it; A/B count how often each
 * marker ran, so the harness can reject a firmware that ran them other than
 * once. T is every instruction executed in the run.
 *
 * Debian's QEMU ships no qemu-plugin.h, so the handful of declarations this
 * plugin needs are written out below. They mirror the stable C ABI of plugin
 * API version 1 (opaque handles, int-sized enums, a uint64_t plugin id).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- minimal plugin ABI declarations (API version 1) ---- */
#define EXPORT __attribute__((visibility("default")))

typedef uint64_t plugin_id;
struct qemu_info_t;          /* only passed through, never read */
struct qemu_plugin_tb;       /* opaque */
struct qemu_plugin_insn;     /* opaque */

enum cb_flags { CB_NO_REGS = 0 };        /* QEMU_PLUGIN_CB_NO_REGS */
enum inline_op { INLINE_ADD_U64 = 0 };   /* QEMU_PLUGIN_INLINE_ADD_U64 */

typedef void (*tb_trans_cb)(plugin_id id, struct qemu_plugin_tb *tb);
typedef void (*vcpu_udata_cb)(unsigned int vcpu_index, void *udata);
typedef void (*udata_cb)(plugin_id id, void *udata);

extern void qemu_plugin_register_vcpu_tb_trans_cb(plugin_id id, tb_trans_cb cb);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
                                                        size_t idx);
extern uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
extern void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                       enum inline_op op, void *ptr,
                                                       uint64_t imm);
extern void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                                   vcpu_udata_cb cb, enum cb_flags flags,
                                                   void *udata);
extern void qemu_plugin_register_atexit_cb(plugin_id id, udata_cb cb, void *udata);

EXPORT int qemu_plugin_version = 1;

/* ---- state (the MPS2 boards have a single vCPU) ---- */
static uint64_t counter;
static uint64_t start_addr, end_addr;
static uint64_t start_snap, result;
static uint64_t start_hits, end_hits;
static bool in_window, have_result;
static char *out_path;

static void on_start(unsigned int vcpu, void *udata)
{
    (void)vcpu; (void)udata;
    start_hits++;
    start_snap = counter;
    in_window = true;
}

static void on_end(unsigned int vcpu, void *udata)
{
    (void)vcpu; (void)udata;
    end_hits++;
    if (in_window && !have_result) {
        result = counter - start_snap;
        have_result = true;
    }
    in_window = false;
}

static void tb_trans(plugin_id id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t va = qemu_plugin_insn_vaddr(insn);
        /* Snapshot callbacks are registered before the inline add; both
         * markers are treated alike, so the difference does not depend on
         * the order QEMU runs them in. */
        if (va == start_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, CB_NO_REGS, NULL);
        } else if (va == end_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, CB_NO_REGS, NULL);
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, INLINE_ADD_U64, &counter, 1);
    }
}

static void at_exit(plugin_id id, void *udata)
{
    (void)id; (void)udata;
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "insn_count: cannot write %s\n", out_path);
        return;
    }
    if (have_result) {
        fprintf(f, "insns=%" PRIu64, result);
    } else {
        fprintf(f, "insns=none");
    }
    fprintf(f, " start_hits=%" PRIu64 " end_hits=%" PRIu64 " total=%" PRIu64 "\n",
            start_hits, end_hits, counter);
    fclose(f);
}

static bool parse_addr(const char *s, uint64_t *out)
{
    char *endp = NULL;
    unsigned long long v = strtoull(s, &endp, 0);
    if (endp == s || *endp != '\0') {
        return false;
    }
    *out = (uint64_t)v & ~(uint64_t)1; /* clear the Thumb bit */
    return true;
}

EXPORT int qemu_plugin_install(plugin_id id, const struct qemu_info_t *info, int argc,
                               char **argv)
{
    (void)info;
    bool have_start = false, have_end = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "start=", 6) == 0) {
            have_start = parse_addr(a + 6, &start_addr);
            if (!have_start) {
                fprintf(stderr, "insn_count: bad address in '%s'\n", a);
                return -1;
            }
        } else if (strncmp(a, "end=", 4) == 0) {
            have_end = parse_addr(a + 4, &end_addr);
            if (!have_end) {
                fprintf(stderr, "insn_count: bad address in '%s'\n", a);
                return -1;
            }
        } else if (strncmp(a, "out=", 4) == 0) {
            out_path = strdup(a + 4);
        } else {
            fprintf(stderr, "insn_count: unknown argument '%s'\n", a);
            return -1;
        }
    }
    if (!have_start || !have_end || !out_path) {
        fprintf(stderr, "insn_count: need start=ADDR end=ADDR out=PATH\n");
        return -1;
    }
    if (start_addr == end_addr) {
        fprintf(stderr, "insn_count: start and end markers share an address\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
