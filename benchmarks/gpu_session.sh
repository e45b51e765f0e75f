#!/usr/bin/env bash
# What runs on a GPU machine lent for a few minutes (no network, its own torch, a 64 MiB
# working tree). Prepared and tried on the CPU first; the inputs travel in ignored folders, all but
# the last made by `bash benchmarks/gpu_prepare.sh DATA_HOME` (on the CPU machine, beforehand):
#   .whl/            wheels of what the GPU image lacks (fastai, spaCy and their needs; python 3.12)
#   .gpu/data/       TREC-6, the IMDb sample and 100 Wikipedia articles (for the GPU tests and speed rows)
#   .gpu/whl_small/  the fastai wheels only (pretraining needs no tokenizer)
#   .gpu/slice20k/   token ids packed by `python benchmarks/gpu_pretrain.py pack --max-vocab 20000`
#   .gpu/init/       optional: shipped weights as int8 (`gpu_pretrain.py pack-init`) to continue from
#
#   bash benchmarks/gpu_session.sh checks              # pytest -m gpu, then the GPU speed rows
#   bash benchmarks/gpu_session.sh pretrain MINUTES [TRAIN ARGS]   # forward and backward side by side
#       e.g. `pretrain 9 --emb-size 400 --hidden-size 1152 --precision int8 --batch-size 256` trains a
#       new pair of the paper's size from .gpu/slice20k (int8 files of ~28 MB each, so that the pair
#       fits the wheel's 60 MB); `SLICE=.gpu/slice pretrain 7.5 --init .gpu/init --batch-size 256
#       --lr 2e-3` continues the shipped pair from a slice packed with its full 30,008-token vocabulary
# Results go to $OUT (the device tool brings that folder back).
set -o pipefail
OUT=${OUT:-/tmp/gpu_out}
SLICE=${SLICE:-.gpu/slice20k}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

case "$1" in
checks)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD SK_ULMFIT_DATA=$PWD/.gpu/data
    python3 -c "import torch, fastai, spacy, sklearn; print('torch', torch.__version__, 'fastai', fastai.__version__, 'spacy', spacy.__version__, 'sklearn', sklearn.__version__)"
    timeout 240 python3 -m pytest -m gpu tests/test_gpu.py -p no:cacheprovider -q 2>&1 | tee "$OUT/gpu_tests.log"
    timeout 200 python3 benchmarks/gpu_speed.py --device cuda 2>&1 | tee "$OUT/gpu_speed.json"
    ;;
pretrain)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl_small/*.whl || exit 1
    # sk_ulmfit.pretrain._corpus reads spaCy's version for its cache key; the slice is already tokenised.
    mkdir -p /tmp/stub/spacy && echo '__version__ = "3.8.18"' > /tmp/stub/spacy/__init__.py
    export PYTHONPATH=/tmp/site:/tmp/stub:$PWD
    for direction in forward backward; do
        python3 benchmarks/gpu_pretrain.py train --slice "$SLICE" --direction "$direction" --minutes "$2" \
            "${@:3}" --out "/tmp/run/$direction" > "/tmp/run_$direction.log" 2>&1 &
    done
    wait
    cat /tmp/run_forward.log /tmp/run_backward.log > "$OUT/train.log"
    tail -n 12 /tmp/run_forward.log /tmp/run_backward.log
    for short in fwd bwd; do
        direction=$([ $short = fwd ] && echo forward || echo backward)
        cp "/tmp/run/$direction/english_$short.json" "$OUT/" 2>/dev/null
        # Files come back at most 16 MiB each.
        split -b 15M "/tmp/run/$direction/english_$short.pt" "$OUT/english_$short.pt.part-" 2>/dev/null
    done
    ls -la "$OUT"
    ;;
esac
