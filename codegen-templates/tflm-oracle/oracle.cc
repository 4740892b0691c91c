// Differential-test oracle: TFLM reference kernels (tflite-micro 90b983c2) and
// their Prepare arithmetic, behind a C ABI. Prepare code that needs
// TfLiteContext/MicroContext is transcribed statement by statement from the
// micro kernels; everything else calls the real TFLM functions.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/kernels/internal/common.h"
#include "tensorflow/lite/kernels/internal/quantization_util.h"
#include "tensorflow/lite/kernels/internal/reference/concatenation.h"
#include "tensorflow/lite/kernels/internal/reference/dequantize.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/add.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/conv.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/depthwise_conv.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/logistic.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/mul.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/pooling.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/tanh.h"
#include "tensorflow/lite/kernels/internal/reference/pad.h"
#include "tensorflow/lite/kernels/internal/reference/process_broadcast_shapes.h"
#include "tensorflow/lite/kernels/internal/reference/quantize.h"
#include "tensorflow/lite/kernels/internal/reference/reduce.h"
#include "tensorflow/lite/kernels/internal/reference/requantize.h"
#include "tensorflow/lite/kernels/internal/reference/softmax.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/kernels/padding.h"
#include "tensorflow/lite/micro/kernels/activations.h"

using namespace tflite;

namespace {

void ReportError(TfLiteContext*, const char*, ...) {}

TfLiteContext* Ctx() {
  static TfLiteContext ctx;
  static bool init = false;
  if (!init) {
    std::memset(&ctx, 0, sizeof(ctx));
    ctx.ReportError = ReportError;
    init = true;
  }
  return &ctx;
}

// A TfLiteTensor with affine quantization (owned storage leaks; test only).
TfLiteIntArray* IntArray(int n) {
  auto* a = static_cast<TfLiteIntArray*>(std::malloc(sizeof(int) * (n + 1)));
  a->size = n;
  return a;
}
TfLiteFloatArray* FloatArray(int n) {
  auto* a = static_cast<TfLiteFloatArray*>(std::malloc(sizeof(float) * (n + 1)));
  a->size = n;
  return a;
}

struct Tensor {
  TfLiteTensor t;
  Tensor(TfLiteType type, const int* dims, int rank, const float* scales,
         int n_scales, int zp, int qdim) {
    std::memset(&t, 0, sizeof(t));
    t.type = type;
    t.dims = IntArray(rank);
    for (int i = 0; i < rank; ++i) t.dims->data[i] = dims[i];
    t.params.scale = n_scales > 0 ? scales[0] : 0.f;
    t.params.zero_point = zp;
    if (n_scales > 0) {
      auto* aq = static_cast<TfLiteAffineQuantization*>(
          std::malloc(sizeof(TfLiteAffineQuantization)));
      aq->scale = FloatArray(n_scales);
      aq->zero_point = IntArray(n_scales);
      for (int i = 0; i < n_scales; ++i) {
        aq->scale->data[i] = scales[i];
        aq->zero_point->data[i] = zp;
      }
      aq->quantized_dimension = qdim;
      t.quantization.type = kTfLiteAffineQuantization;
      t.quantization.params = aq;
    }
  }
};

RuntimeShape Shape(const int* dims, int rank) { return RuntimeShape(rank, dims); }

template <int IB>
int32_t ExpNeg(int32_t a) {
  return gemmlowp::exp_on_negative_values(gemmlowp::FixedPoint<int32_t, IB>::FromRaw(a)).raw();
}

template <typename T>
T FloatToQuantizedType(const float value, const float scale, int zero_point) {
  int32_t result = round(value / scale) + zero_point;
  result = std::max(static_cast<int32_t>(std::numeric_limits<T>::min()), result);
  result = std::min(static_cast<int32_t>(std::numeric_limits<T>::max()), result);
  return result;
}

}  // namespace

extern "C" {

// ---------------------------------------------------------------- fixed point
int32_t o_srdhm(int32_t a, int32_t b) {
  return gemmlowp::SaturatingRoundingDoublingHighMul(a, b);
}
int32_t o_rdbpot(int32_t x, int e) { return gemmlowp::RoundingDivideByPOT(x, e); }
int32_t o_mbqm(int32_t x, int32_t m, int s) {
  return MultiplyByQuantizedMultiplier(x, m, s);
}
int32_t o_mbqm64(int64_t x, int32_t m, int s) {
  return MultiplyByQuantizedMultiplier(x, m, s);
}
int32_t o_mbqm_smaller(int32_t x, int32_t m, int s) {
  return MultiplyByQuantizedMultiplierSmallerThanOneExp(x, m, s);
}
int32_t o_mbqm_greater(int32_t x, int32_t m, int s) {
  return MultiplyByQuantizedMultiplierGreaterThanOne(x, m, s);
}
int32_t o_exp_neg(int32_t a, int ib) {
  switch (ib) {
    case 1: return ExpNeg<1>(a);
    case 2: return ExpNeg<2>(a);
    case 3: return ExpNeg<3>(a);
    case 4: return ExpNeg<4>(a);
    case 5: return ExpNeg<5>(a);
    case 6: return ExpNeg<6>(a);
    default: return ExpNeg<7>(a);
  }
}
int32_t o_logistic4(int32_t a) {
  return gemmlowp::logistic(gemmlowp::FixedPoint<int32_t, 4>::FromRaw(a)).raw();
}
int32_t o_tanh4(int32_t a) {
  return gemmlowp::tanh(gemmlowp::FixedPoint<int32_t, 4>::FromRaw(a)).raw();
}
int32_t o_one_over(int32_t a) {
  return gemmlowp::one_over_one_plus_x_for_x_in_0_1(
             gemmlowp::FixedPoint<int32_t, 0>::FromRaw(a))
      .raw();
}
int32_t o_get_reciprocal(int32_t x, int digits, int* bits) {
  return GetReciprocal(x, digits, bits);
}
int32_t o_rescale_0_12(int32_t x) {
  return gemmlowp::Rescale<12>(gemmlowp::FixedPoint<int32_t, 0>::FromRaw(x)).raw();
}
void o_quantize_multiplier(double r, int32_t* m, int* s) { QuantizeMultiplier(r, m, s); }
void o_preprocess_softmax(double beta, double scale, int ib, int32_t* m, int* s) {
  PreprocessSoftmaxScaling(beta, scale, ib, m, s);
}
int o_input_radius(int ib, int ls, int total) { return CalculateInputRadius(ib, ls, total); }

int o_act_range(float scale, int zp, int act, int32_t* mn, int32_t* mx) {
  int dims[1] = {1};
  Tensor out(kTfLiteInt8, dims, 1, &scale, 1, zp, 0);
  return CalculateActivationRangeQuantized(Ctx(), static_cast<TfLiteFusedActivation>(act),
                                           &out.t, mn, mx);
}

// ------------------------------------------------------------------- conv
// Returns 0 on success, 1 when Prepare fails.
int o_conv(const int* in_dims, const int8_t* in, const int* f_dims, const int8_t* f,
           const int32_t* bias, float in_scale, int in_zp, const float* f_scales,
           int n_scales, float out_scale, int out_zp, int act, int stride_h,
           int stride_w, int dil_h, int dil_w, int padding, const int* out_dims,
           int8_t* out) {
  int out_h = 0, out_w = 0;
  TfLitePaddingValues pv = ComputePaddingHeightWidth(
      stride_h, stride_w, dil_h, dil_w, in_dims[1], in_dims[2], f_dims[1], f_dims[2],
      static_cast<TfLitePadding>(padding), &out_h, &out_w);
  Tensor ti(kTfLiteInt8, in_dims, 4, &in_scale, 1, in_zp, 0);
  Tensor tf(kTfLiteInt8, f_dims, 4, f_scales, n_scales, 0, 0);
  Tensor to(kTfLiteInt8, out_dims, 4, &out_scale, 1, out_zp, 0);
  const int channels = f_dims[0];
  std::vector<int32_t> mult(channels), shift(channels);
  int32_t m0 = 0;
  int s0 = 0;
  int32_t amin, amax;
  if (PopulateConvolutionQuantizationParams(
          Ctx(), &ti.t, &tf.t, nullptr, &to.t, static_cast<TfLiteFusedActivation>(act),
          &m0, &s0, &amin, &amax, mult.data(), shift.data(), channels) != kTfLiteOk)
    return 1;
  ConvParams op;
  op.input_offset = -in_zp;
  op.weights_offset = 0;
  op.output_offset = out_zp;
  op.padding_values.height = pv.height;
  op.padding_values.width = pv.width;
  op.stride_height = stride_h;
  op.stride_width = stride_w;
  op.dilation_height_factor = dil_h;
  op.dilation_width_factor = dil_w;
  op.quantized_activation_min = amin;
  op.quantized_activation_max = amax;
  int b_dims[1] = {channels};
  reference_integer_ops::ConvPerChannel(op, mult.data(), shift.data(), Shape(in_dims, 4), in,
                                        Shape(f_dims, 4), f, Shape(b_dims, 1), bias,
                                        Shape(out_dims, 4), out);
  return 0;
}

int o_dwconv(const int* in_dims, const int8_t* in, const int* f_dims, const int8_t* f,
             const int32_t* bias, float in_scale, int in_zp, const float* f_scales,
             int n_scales, float out_scale, int out_zp, int act, int stride_h,
             int stride_w, int dil_h, int dil_w, int padding, int depth_multiplier,
             const int* out_dims, int8_t* out) {
  int out_h = 0, out_w = 0;
  TfLitePaddingValues pv = ComputePaddingHeightWidth(
      stride_h, stride_w, dil_h, dil_w, in_dims[1], in_dims[2], f_dims[1], f_dims[2],
      static_cast<TfLitePadding>(padding), &out_h, &out_w);
  Tensor ti(kTfLiteInt8, in_dims, 4, &in_scale, 1, in_zp, 0);
  Tensor tf(kTfLiteInt8, f_dims, 4, f_scales, n_scales, 0, 3);
  Tensor to(kTfLiteInt8, out_dims, 4, &out_scale, 1, out_zp, 0);
  const int channels = f_dims[3];
  std::vector<int32_t> mult(channels), shift(channels);
  int32_t m0 = 0;
  int s0 = 0;
  int32_t amin, amax;
  if (PopulateConvolutionQuantizationParams(
          Ctx(), &ti.t, &tf.t, nullptr, &to.t, static_cast<TfLiteFusedActivation>(act),
          &m0, &s0, &amin, &amax, mult.data(), shift.data(), channels) != kTfLiteOk)
    return 1;
  DepthwiseParams op;
  op.input_offset = -in_zp;
  op.weights_offset = 0;
  op.output_offset = out_zp;
  op.padding_values.height = pv.height;
  op.padding_values.width = pv.width;
  op.stride_height = stride_h;
  op.stride_width = stride_w;
  op.dilation_height_factor = dil_h;
  op.dilation_width_factor = dil_w;
  op.depth_multiplier = depth_multiplier;
  op.quantized_activation_min = amin;
  op.quantized_activation_max = amax;
  int b_dims[1] = {channels};
  reference_integer_ops::DepthwiseConvPerChannel(op, mult.data(), shift.data(),
                                                 Shape(in_dims, 4), in, Shape(f_dims, 4), f,
                                                 Shape(b_dims, 1), bias, Shape(out_dims, 4),
                                                 out);
  return 0;
}

// -------------------------------------------------------------------- fc
// Transcribes CalculateOpDataFullyConnected (int8).
int o_fc(int rows, int depth, int units, const int8_t* in, const int8_t* f,
         const int32_t* bias, float in_scale, int in_zp, const float* f_scales,
         int n_scales, int f_zp, float bias_scale, float out_scale, int out_zp, int act,
         int8_t* out) {
  int in_dims[2] = {rows, depth};
  int f_dims[2] = {units, depth};
  int o_dims[2] = {rows, units};
  int b_dims[1] = {units};
  Tensor ti(kTfLiteInt8, in_dims, 2, &in_scale, 1, in_zp, 0);
  Tensor tf(kTfLiteInt8, f_dims, 2, f_scales, n_scales, f_zp, 0);
  Tensor tb(kTfLiteInt32, b_dims, 1, &bias_scale, 1, 0, 0);
  Tensor to(kTfLiteInt8, o_dims, 2, &out_scale, 1, out_zp, 0);
  bool is_per_channel = n_scales > 1;
  std::vector<int32_t> mult(units), shift(units);
  int32_t out_mult = 0;
  int out_shift = 0;
  if (is_per_channel) {
    const float input_scale = ti.t.params.scale;
    const float output_scale = to.t.params.scale;
    for (int i = 0; i < n_scales; ++i) {
      const float scale = f_scales[i];
      const double filter_scale = static_cast<double>(scale);
      const double effective_output_scale =
          static_cast<double>(input_scale) * filter_scale / static_cast<double>(output_scale);
      int32_t significand;
      int channel_shift;
      QuantizeMultiplier(effective_output_scale, &significand, &channel_shift);
      mult[i] = significand;
      shift[i] = channel_shift;
    }
  } else {
    double real_multiplier = 0.0;
    if (GetQuantizedConvolutionMultipler(Ctx(), &ti.t, &tf.t, bias ? &tb.t : nullptr, &to.t,
                                         &real_multiplier) != kTfLiteOk)
      return 1;
    QuantizeMultiplier(real_multiplier, &out_mult, &out_shift);
  }
  int32_t amin, amax;
  if (CalculateActivationRangeQuantized(Ctx(), static_cast<TfLiteFusedActivation>(act), &to.t,
                                        &amin, &amax) != kTfLiteOk)
    return 1;
  FullyConnectedParams op;
  op.input_offset = -in_zp;
  op.weights_offset = -f_zp;
  op.output_offset = out_zp;
  op.output_multiplier = out_mult;
  op.output_shift = out_shift;
  op.quantized_activation_min = amin;
  op.quantized_activation_max = amax;
  if (is_per_channel) {
    reference_integer_ops::FullyConnectedPerChannel(
        op, mult.data(), reinterpret_cast<const int*>(shift.data()), Shape(in_dims, 2), in,
        Shape(f_dims, 2), f, Shape(b_dims, 1), bias, Shape(o_dims, 2), out);
  } else {
    reference_integer_ops::FullyConnected(op, Shape(in_dims, 2), in, Shape(f_dims, 2), f,
                                          Shape(b_dims, 1), bias, Shape(o_dims, 2), out);
  }
  return 0;
}

// ------------------------------------------------------------------ pooling
int o_pool(int is_avg, const int* in_dims, const int8_t* in, float in_scale, int in_zp,
           float out_scale, int out_zp, int act, int k_h, int k_w, int stride_h,
           int stride_w, int padding, const int* out_dims, int8_t* out) {
  int out_h, out_w;
  TfLitePaddingValues pv = ComputePaddingHeightWidth(
      stride_h, stride_w, 1, 1, in_dims[1], in_dims[2], k_h, k_w,
      static_cast<TfLitePadding>(padding), &out_h, &out_w);
  const double scale_diff = static_cast<double>(std::abs(in_scale - out_scale));
  if (!(scale_diff <= 1.0e-6)) return 1;
  if (in_zp != out_zp) return 1;
  Tensor to(kTfLiteInt8, out_dims, 4, &out_scale, 1, out_zp, 0);
  int32_t amin, amax;
  CalculateActivationRangeQuantized(Ctx(), static_cast<TfLiteFusedActivation>(act), &to.t,
                                    &amin, &amax);
  PoolParams op;
  op.stride_height = stride_h;
  op.stride_width = stride_w;
  op.filter_height = k_h;
  op.filter_width = k_w;
  op.padding_values.height = pv.height;
  op.padding_values.width = pv.width;
  op.quantized_activation_min = amin;
  op.quantized_activation_max = amax;
  if (is_avg) {
    if (!reference_integer_ops::AveragePool(op, Shape(in_dims, 4), in, Shape(out_dims, 4),
                                            out))
      return 2;
  } else {
    reference_integer_ops::MaxPool(op, Shape(in_dims, 4), in, Shape(out_dims, 4), out);
  }
  return 0;
}

// ------------------------------------------------------------------ add/mul
static void BroadcastOut(const int* d1, int r1, const int* d2, int r2, std::vector<int>& od) {
  int r = std::max(r1, r2);
  od.assign(r, 1);
  for (int i = 0; i < r; ++i) {
    int a = i - (r - r1) >= 0 ? d1[i - (r - r1)] : 1;
    int b = i - (r - r2) >= 0 ? d2[i - (r - r2)] : 1;
    od[i] = std::max(a, b);
  }
}

// Transcribes CalculateOpDataAdd (int8) + EvalAddQuantized.
int o_add(const int* d1, int r1, const int8_t* x1, const int* d2, int r2, const int8_t* x2,
          float s1, int zp1, float s2, int zp2, float so, int zpo, int act, int8_t* out) {
  std::vector<int> od;
  BroadcastOut(d1, r1, d2, r2, od);
  Tensor to(kTfLiteInt8, od.data(), od.size(), &so, 1, zpo, 0);
  ArithmeticParams op = {};
  op.left_shift = 20;
  const double twice_max_input_scale = 2 * static_cast<double>(std::max(s1, s2));
  const double real_input1_multiplier = static_cast<double>(s1) / twice_max_input_scale;
  const double real_input2_multiplier = static_cast<double>(s2) / twice_max_input_scale;
  const double real_output_multiplier =
      twice_max_input_scale / ((1 << op.left_shift) * static_cast<double>(so));
  if (!(real_output_multiplier < 1.0)) return 1;
  QuantizeMultiplierSmallerThanOneExp(real_input1_multiplier, &op.input1_multiplier,
                                      &op.input1_shift);
  QuantizeMultiplierSmallerThanOneExp(real_input2_multiplier, &op.input2_multiplier,
                                      &op.input2_shift);
  QuantizeMultiplierSmallerThanOneExp(real_output_multiplier, &op.output_multiplier,
                                      &op.output_shift);
  CalculateActivationRangeQuantized(Ctx(), static_cast<TfLiteFusedActivation>(act), &to.t,
                                    &op.quantized_activation_min,
                                    &op.quantized_activation_max);
  op.input1_offset = -zp1;
  op.input2_offset = -zp2;
  op.output_offset = zpo;
  RuntimeShape sh1 = Shape(d1, r1), sh2 = Shape(d2, r2),
               sho = Shape(od.data(), od.size());
  bool need_broadcast = reference_ops::ProcessBroadcastShapes(sh1, sh2, &op);
  if (need_broadcast) {
    reference_integer_ops::BroadcastAdd4DSlow(op, sh1, x1, sh2, x2, sho, out);
  } else {
    reference_integer_ops::Add(op, sh1, x1, sh2, x2, sho, out);
  }
  return 0;
}

int o_mul(const int* d1, int r1, const int8_t* x1, const int* d2, int r2, const int8_t* x2,
          float s1, int zp1, float s2, int zp2, float so, int zpo, int act, int8_t* out) {
  std::vector<int> od;
  BroadcastOut(d1, r1, d2, r2, od);
  Tensor to(kTfLiteInt8, od.data(), od.size(), &so, 1, zpo, 0);
  ArithmeticParams op = {};
  CalculateActivationRangeQuantized(Ctx(), static_cast<TfLiteFusedActivation>(act), &to.t,
                                    &op.quantized_activation_min,
                                    &op.quantized_activation_max);
  double real_multiplier =
      static_cast<double>(s1) * static_cast<double>(s2) / static_cast<double>(so);
  QuantizeMultiplier(real_multiplier, &op.output_multiplier, &op.output_shift);
  op.input1_offset = -zp1;
  op.input2_offset = -zp2;
  op.output_offset = zpo;
  RuntimeShape sh1 = Shape(d1, r1), sh2 = Shape(d2, r2),
               sho = Shape(od.data(), od.size());
  bool need_broadcast = reference_ops::ProcessBroadcastShapes(sh1, sh2, &op);
  if (need_broadcast) {
    reference_integer_ops::BroadcastMul4DSlow(op, sh1, x1, sh2, x2, sho, out);
  } else {
    reference_integer_ops::Mul(op, sh1, x1, sh2, x2, sho, out);
  }
  return 0;
}

// --------------------------------------------------------------------- mean
int o_mean(const int* dims, int rank, const int* axes, int naxes, const int8_t* in,
           float s_in, int zp_in, float s_out, int zp_out, int8_t* out) {
  int32_t multiplier;
  int shift;
  const double real_multiplier = static_cast<double>(s_in) / static_cast<double>(s_out);
  QuantizeMultiplier(real_multiplier, &multiplier, &shift);
  // Output dims: keep_dims = false.
  std::vector<int> od;
  for (int i = 0; i < rank; ++i) {
    bool red = false;
    for (int j = 0; j < naxes; ++j) {
      int a = axes[j] < 0 ? axes[j] + rank : axes[j];
      if (a == i) red = true;
    }
    if (!red) od.push_back(dims[i]);
  }
  size_t n_out = 1;
  for (int d : od) n_out *= d;
  std::vector<int32_t> temp_sum(n_out + 1);
  std::vector<int> iter(rank), resolved(naxes + 1);
  bool ok = reference_ops::QuantizedMeanOrSumExtraArgs<int8_t, int32_t>(
      in, zp_in, s_in, dims, rank, out, s_out, multiplier, shift, zp_out, od.data(),
      od.size(), axes, naxes, false, iter.data(), resolved.data(), temp_sum.data(), false);
  return ok ? 0 : 1;
}

// ------------------------------------------------------------------ softmax
int o_softmax(const int* dims, int rank, float beta, float s_in, int zp_in, float s_out,
              int zp_out, const int8_t* in, int8_t* out) {
  if (zp_out != -128) return 1;
  if (!(s_out == 1.f / 256)) return 1;
  SoftmaxParams op = {};
  static const int kScaledDiffIntegerBits = 5;
  int input_left_shift;
  double real = static_cast<double>(beta) * static_cast<double>(s_in) *
                (1 << (31 - kScaledDiffIntegerBits));
  if (!(std::min<double>(real, (1LL << 31) - 1.0) > 1.)) return 1;
  tflite::PreprocessSoftmaxScaling(static_cast<double>(beta), static_cast<double>(s_in),
                                   kScaledDiffIntegerBits, &op.input_multiplier,
                                   &input_left_shift);
  op.input_left_shift = input_left_shift;
  op.diff_min = -1.0 * tflite::CalculateInputRadius(kScaledDiffIntegerBits,
                                                    op.input_left_shift);
  reference_ops::Softmax(op, Shape(dims, rank), in, Shape(dims, rank), out);
  return 0;
}

// ---------------------------------------------------------- logistic / tanh
static void Q4Prepare(float s_in, int32_t* mult, int* shift, int32_t* radius) {
  static constexpr int kInputIntegerBits = 4;
  const double input_real_multiplier =
      static_cast<double>(s_in) * static_cast<double>(1 << (31 - kInputIntegerBits));
  const double q = std::frexp(input_real_multiplier, shift);
  *mult = static_cast<int32_t>(TfLiteRound(q * (1ll << 31)));
  *radius = CalculateInputRadius(kInputIntegerBits, *shift, 31);
}

void o_logistic(int n, float s_in, int zp_in, const int8_t* in, int8_t* out,
                int32_t* params) {
  int32_t mult, radius;
  int shift;
  Q4Prepare(s_in, &mult, &shift, &radius);
  params[0] = mult;
  params[1] = shift;
  params[2] = radius;
  reference_integer_ops::Logistic(zp_in, radius, mult, shift, n, in, out);
}

void o_tanh(int n, float s_in, int zp_in, const int8_t* in, int8_t* out) {
  int32_t mult, radius;
  int shift;
  Q4Prepare(s_in, &mult, &shift, &radius);
  int d[1] = {n};
  reference_integer_ops::Tanh(zp_in, radius, mult, shift, Shape(d, 1), in, Shape(d, 1), out);
}

// --------------------------------------------------------------------- relu
void o_relu(int n, float s_in, int zp_in, float s_out, int zp_out, const int8_t* in,
            int8_t* out) {
  ReluOpData data;
  float act_min = 0.0;
  float act_max = std::numeric_limits<float>::infinity();
  double real_multiplier = static_cast<double>(s_in / s_out);
  QuantizeMultiplier(real_multiplier, &data.params.output_multiplier,
                     &data.params.output_shift);
  data.params.quantized_activation_min =
      std::max(static_cast<int32_t>(std::numeric_limits<int8_t>::min()),
               zp_out + static_cast<int32_t>(roundf(act_min / s_out)));
  data.params.quantized_activation_max =
      act_max == std::numeric_limits<float>::infinity()
          ? static_cast<int32_t>(std::numeric_limits<int8_t>::max())
          : std::min(static_cast<int32_t>(std::numeric_limits<int8_t>::max()),
                     zp_out + static_cast<int32_t>(roundf(act_max / s_out)));
  data.params.input_offset = zp_in;
  data.params.output_offset = zp_out;
  int d[1] = {n};
  ReluQuantized<int8_t>(data, Shape(d, 1), Shape(d, 1), in, out);
}

void o_relu6(int n, float s_in, int zp_in, const int8_t* in, int8_t* out) {
  Relu6OpData data;
  data.zero = zp_in;
  data.six = FloatToQuantizedType<int8_t>(6.0f, s_in, zp_in);
  int d[1] = {n};
  Relu6Quantized<int8_t>(data.zero, data.six, Shape(d, 1), in, Shape(d, 1), out);
}

// ---------------------------------------------------------------------- pad
void o_pad(const int* dims, int rank, const int* pads /* 2*rank */, int pad_value,
           const int8_t* in, int8_t* out) {
  PadParams p;
  p.resizing_category = ResizingCategory::kGenericResize;
  p.left_padding_count = rank;
  p.right_padding_count = rank;
  std::vector<int> od(rank);
  for (int i = 0; i < rank; ++i) {
    p.left_padding[i] = pads[2 * i];
    p.right_padding[i] = pads[2 * i + 1];
    od[i] = dims[i] + pads[2 * i] + pads[2 * i + 1];
  }
  int8_t pv = static_cast<uint8_t>(pad_value);
  reference_ops::Pad(p, Shape(dims, rank), in, &pv, Shape(od.data(), rank), out);
}

// -------------------------------------------------------------- concatenate
void o_concat(int n_inputs, const int* dims /* n_inputs*rank */, int rank, int axis,
              const int8_t* const* ins, int8_t* out) {
  std::vector<RuntimeShape> shapes;
  std::vector<const RuntimeShape*> ptrs;
  for (int i = 0; i < n_inputs; ++i) shapes.emplace_back(rank, dims + i * rank);
  for (auto& s : shapes) ptrs.push_back(&s);
  std::vector<int> od(dims, dims + rank);
  od[axis] = 0;
  for (int i = 0; i < n_inputs; ++i) od[axis] += dims[i * rank + axis];
  ConcatenationParams p;
  p.axis = axis;
  p.inputs_count = n_inputs;
  reference_ops::Concatenation(p, ptrs.data(), ins, Shape(od.data(), rank), out);
}

// ------------------------------------------------------- quantize/dequantize
void o_quantize(int n, const float* in, float scale, int zp, int8_t* out) {
  QuantizationParams q;
  q.zero_point = zp;
  q.scale = static_cast<double>(scale);
  int d[1] = {n};
  reference_ops::AffineQuantize(q, Shape(d, 1), in, Shape(d, 1), out);
}

void o_requantize(int n, float s_in, int zp_in, float s_out, int zp_out, const int8_t* in,
                  int8_t* out) {
  int32_t m;
  int s;
  double effective_scale = static_cast<double>(s_in) / static_cast<double>(s_out);
  QuantizeMultiplier(effective_scale, &m, &s);
  reference_ops::Requantize(in, n, m, s, zp_in, zp_out, out);
}

void o_dequantize(int n, float scale, int zp, const int8_t* in, float* out) {
  DequantizationParams q;
  q.zero_point = zp;
  q.scale = static_cast<double>(scale);
  int d[1] = {n};
  reference_ops::Dequantize(q, Shape(d, 1), in, Shape(d, 1), out);
}

}  // extern "C"
