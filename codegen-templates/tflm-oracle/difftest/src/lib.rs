#![allow(clippy::all)]
use std::os::raw::c_int;

unsafe extern "C" {
    pub fn o_srdhm(a: i32, b: i32) -> i32;
    pub fn o_rdbpot(x: i32, e: c_int) -> i32;
    pub fn o_mbqm(x: i32, m: i32, s: c_int) -> i32;
    pub fn o_mbqm64(x: i64, m: i32, s: c_int) -> i32;
    pub fn o_mbqm_smaller(x: i32, m: i32, s: c_int) -> i32;
    pub fn o_mbqm_greater(x: i32, m: i32, s: c_int) -> i32;
    pub fn o_exp_neg(a: i32, ib: c_int) -> i32;
    pub fn o_logistic4(a: i32) -> i32;
    pub fn o_tanh4(a: i32) -> i32;
    pub fn o_one_over(a: i32) -> i32;
    pub fn o_get_reciprocal(x: i32, digits: c_int, bits: *mut c_int) -> i32;
    pub fn o_rescale_0_12(x: i32) -> i32;
    pub fn o_quantize_multiplier(r: f64, m: *mut i32, s: *mut c_int);
    pub fn o_preprocess_softmax(beta: f64, scale: f64, ib: c_int, m: *mut i32, s: *mut c_int);
    pub fn o_input_radius(ib: c_int, ls: c_int, total: c_int) -> c_int;
    pub fn o_act_range(scale: f32, zp: c_int, act: c_int, mn: *mut i32, mx: *mut i32) -> c_int;
    pub fn o_conv(
        in_dims: *const c_int,
        input: *const i8,
        f_dims: *const c_int,
        f: *const i8,
        bias: *const i32,
        in_scale: f32,
        in_zp: c_int,
        f_scales: *const f32,
        n_scales: c_int,
        out_scale: f32,
        out_zp: c_int,
        act: c_int,
        stride_h: c_int,
        stride_w: c_int,
        dil_h: c_int,
        dil_w: c_int,
        padding: c_int,
        out_dims: *const c_int,
        out: *mut i8,
    ) -> c_int;
    pub fn o_dwconv(
        in_dims: *const c_int,
        input: *const i8,
        f_dims: *const c_int,
        f: *const i8,
        bias: *const i32,
        in_scale: f32,
        in_zp: c_int,
        f_scales: *const f32,
        n_scales: c_int,
        out_scale: f32,
        out_zp: c_int,
        act: c_int,
        stride_h: c_int,
        stride_w: c_int,
        dil_h: c_int,
        dil_w: c_int,
        padding: c_int,
        depth_multiplier: c_int,
        out_dims: *const c_int,
        out: *mut i8,
    ) -> c_int;
    pub fn o_fc(
        rows: c_int,
        depth: c_int,
        units: c_int,
        input: *const i8,
        f: *const i8,
        bias: *const i32,
        in_scale: f32,
        in_zp: c_int,
        f_scales: *const f32,
        n_scales: c_int,
        f_zp: c_int,
        bias_scale: f32,
        out_scale: f32,
        out_zp: c_int,
        act: c_int,
        out: *mut i8,
    ) -> c_int;
    pub fn o_pool(
        is_avg: c_int,
        in_dims: *const c_int,
        input: *const i8,
        in_scale: f32,
        in_zp: c_int,
        out_scale: f32,
        out_zp: c_int,
        act: c_int,
        k_h: c_int,
        k_w: c_int,
        stride_h: c_int,
        stride_w: c_int,
        padding: c_int,
        out_dims: *const c_int,
        out: *mut i8,
    ) -> c_int;
    pub fn o_add(
        d1: *const c_int,
        r1: c_int,
        x1: *const i8,
        d2: *const c_int,
        r2: c_int,
        x2: *const i8,
        s1: f32,
        zp1: c_int,
        s2: f32,
        zp2: c_int,
        so: f32,
        zpo: c_int,
        act: c_int,
        out: *mut i8,
    ) -> c_int;
    pub fn o_mul(
        d1: *const c_int,
        r1: c_int,
        x1: *const i8,
        d2: *const c_int,
        r2: c_int,
        x2: *const i8,
        s1: f32,
        zp1: c_int,
        s2: f32,
        zp2: c_int,
        so: f32,
        zpo: c_int,
        act: c_int,
        out: *mut i8,
    ) -> c_int;
    pub fn o_mean(
        dims: *const c_int,
        rank: c_int,
        axes: *const c_int,
        naxes: c_int,
        input: *const i8,
        s_in: f32,
        zp_in: c_int,
        s_out: f32,
        zp_out: c_int,
        out: *mut i8,
    ) -> c_int;
    pub fn o_softmax(
        dims: *const c_int,
        rank: c_int,
        beta: f32,
        s_in: f32,
        zp_in: c_int,
        s_out: f32,
        zp_out: c_int,
        input: *const i8,
        out: *mut i8,
    ) -> c_int;
    pub fn o_logistic(
        n: c_int,
        s_in: f32,
        zp_in: c_int,
        input: *const i8,
        out: *mut i8,
        params: *mut i32,
    );
    pub fn o_tanh(n: c_int, s_in: f32, zp_in: c_int, input: *const i8, out: *mut i8);
    pub fn o_relu(
        n: c_int,
        s_in: f32,
        zp_in: c_int,
        s_out: f32,
        zp_out: c_int,
        input: *const i8,
        out: *mut i8,
    );
    pub fn o_relu6(n: c_int, s_in: f32, zp_in: c_int, input: *const i8, out: *mut i8);
    pub fn o_pad(
        dims: *const c_int,
        rank: c_int,
        pads: *const c_int,
        pad_value: c_int,
        input: *const i8,
        out: *mut i8,
    );
    pub fn o_concat(
        n_inputs: c_int,
        dims: *const c_int,
        rank: c_int,
        axis: c_int,
        ins: *const *const i8,
        out: *mut i8,
    );
    pub fn o_quantize(n: c_int, input: *const f32, scale: f32, zp: c_int, out: *mut i8);
    pub fn o_requantize(
        n: c_int,
        s_in: f32,
        zp_in: c_int,
        s_out: f32,
        zp_out: c_int,
        input: *const i8,
        out: *mut i8,
    );
    pub fn o_dequantize(n: c_int, scale: f32, zp: c_int, input: *const i8, out: *mut f32);
}

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    pub fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as i64, hi as i64) as usize
    }
    pub fn i32(&mut self) -> i32 {
        self.next() as i32
    }
    pub fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() as i8).collect()
    }
    pub fn f01(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// log-uniform float in [lo, hi)
    pub fn scale(&mut self, lo: f64, hi: f64) -> f32 {
        (lo.ln() + self.f01() * (hi.ln() - lo.ln())).exp() as f32
    }
    pub fn zp(&mut self) -> i32 {
        self.range(-128, 127) as i32
    }
}
