#!/usr/bin/env bash
# Builds liboracle.a: TFLM's reference kernels and Prepare arithmetic behind a
# C ABI, from a tflite-micro checkout at the goldens' commit and the gemmlowp
# commit it pins (MODULE.bazel).
#
#   TFLM=/path/to/tflite-micro GEMMLOWP=/path/to/gemmlowp ./build.sh
#
# Either path may be a bare git dir; only `git archive` is used.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
TFLM_COMMIT=${TFLM_COMMIT:-90b983c2b3f1480642e040bbd2ddb37b998f3424}
GEMMLOWP_COMMIT=${GEMMLOWP_COMMIT:-fda83bdc38b118cc6b56753bd540caa49e570745}
: "${TFLM:?set TFLM to a tflite-micro git checkout}"
: "${GEMMLOWP:?set GEMMLOWP to a gemmlowp git checkout}"

rm -rf "$here/inc" && mkdir -p "$here/inc"
git -C "$TFLM" archive "$TFLM_COMMIT" \
  tensorflow/lite/kernels/internal tensorflow/lite/core tensorflow/lite/c \
  tensorflow/lite/kernels/op_macros.h tensorflow/lite/kernels/padding.h \
  tensorflow/lite/kernels/kernel_util.h tensorflow/lite/kernels/kernel_util.cc \
  tensorflow/lite/micro/kernels/activations.h tensorflow/lite/micro/micro_log.h \
  tensorflow/lite/micro/debug_log.h tensorflow/lite/builtin_ops.h \
  tensorflow/lite/builtin_op_data.h tensorflow/lite/array.h tensorflow/lite/context_util.h \
  tensorflow/compiler/mlir/lite/core/c/builtin_op_data.h \
  tensorflow/compiler/mlir/lite/core/c/tflite_types.h tensorflow/lite/types/half.h \
  | tar x -C "$here/inc"
git -C "$GEMMLOWP" archive "$GEMMLOWP_COMMIT" fixedpoint internal/detect_platform.h \
  | tar x -C "$here/inc"
mkdir -p "$here/inc/ruy/profiler"
cat > "$here/inc/ruy/profiler/instrumentation.h" <<'H'
#pragma once
namespace ruy { namespace profiler { struct ScopeLabel { template <class... A> ScopeLabel(A...) {} }; } }
H

cd "$here"
FLAGS="-std=c++17 -O2 -fPIC -DTF_LITE_STATIC_MEMORY -Iinc -w"
objs=()
for src in oracle.cc inc/tensorflow/lite/kernels/internal/common.cc \
  inc/tensorflow/lite/kernels/internal/quantization_util.cc \
  inc/tensorflow/lite/kernels/kernel_util.cc inc/tensorflow/lite/core/c/common.cc \
  inc/tensorflow/lite/kernels/internal/runtime_shape.cc; do
  obj="$(echo "${src%.cc}" | tr '/' '_').o"
  g++ $FLAGS -c "$src" -o "$obj"
  objs+=("$obj")
done
rm -f liboracle.a && ar rcs liboracle.a "${objs[@]}"
echo "built $here/liboracle.a"
