//! Fixed-point arithmetic, bit-exact with TFLite's reference kernels
//! (`tensorflow/lite/kernels/internal/common.h` and gemmlowp's
//! `fixedpoint.h`).
