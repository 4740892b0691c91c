#!/usr/bin/env bash
# Fills seeds/ with starting inputs for the fuzz targets: the bundled
# .tflite models up to 64 KB (the larger ones slow libFuzzer down more than
# they add coverage) and the .npy files of the op-level test cases.
set -euo pipefail
cd "$(dirname "$0")"
models=../../tests/models
mkdir -p seeds/tflite seeds/npy
for m in "$models"/ops/*/model.tflite "$models"/*/model.tflite; do
    if [ "$(stat -c %s "$m")" -le 65536 ]; then
        cp "$m" "seeds/tflite/$(basename "$(dirname "$m")").tflite"
    fi
done
for n in "$models"/ops/*/inputs/*.npy "$models"/ops/*/outputs/0.npy; do
    case_dir=$(basename "$(dirname "$(dirname "$n")")")
    cp "$n" "seeds/npy/$case_dir-$(basename "$(dirname "$n")")-$(basename "$n")"
done
echo "seeds: $(ls seeds/tflite | wc -l) models, $(ls seeds/npy | wc -l) arrays"
