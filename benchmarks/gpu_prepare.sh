#!/usr/bin/env bash
# Builds, on a CPU machine that sees the data, the ignored inputs that benchmarks/gpu_session.sh
# carries to a lent GPU machine (no network there, at most 64 MiB of files a call):
#   .whl/            wheels the GPU image lacks for `gpu_session.sh checks` (fastai, spaCy, their needs)
#   .gpu/whl_small/  the fastai wheels only, for `gpu_session.sh pretrain` (no tokenizer needed)
#   .gpu/data/       TREC-6, the IMDb sample and 100 Wikipedia articles (GPU tests and speed rows)
#   .gpu/slice20k/   45M training tokens as xz-compressed ids, vocabulary: the shipped model's
#                    20,000 most frequent tokens (a 400/1152 pair in int8 then fits the wheel's 60 MB)
#
#   bash benchmarks/gpu_prepare.sh DATA_HOME [TOKEN_CACHE]     # e.g. ../shared/data runs/token-cache
#
# The token cache is filled on first use (about 3.5 minutes per Wikipedia shard on 2 cores) and
# reused by later runs. Versions are this environment's (.venv); the GPU image (python 3.12) brings
# torch, numpy, scikit-learn, pandas and the rest (the device tool's KINDS.md lists them).
set -euo pipefail
DATA=${1:?usage: gpu_prepare.sh DATA_HOME [TOKEN_CACHE]}
CACHE=${2:-runs/token-cache}
PY=${PYTHON:-.venv/bin/python}

download() {  # wheels for CPython 3.12 on x86-64 Linux, pinned to this environment's versions
    local dest=$1; shift
    mapfile -t pinned < <("$PY" -c "import importlib.metadata as m, sys
for name in sys.argv[1:]: print(f'{name}=={m.version(name)}')" "$@")
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$dest" "${pinned[@]}"
}
# The requirements of fastai and spaCy, followed through, less what the image holds (KINDS.md,
# read 2026-11-17); fastprogress imports python-fasthtml, which brings the web stack after it.
FASTAI=(fastai fastcore fastdownload fastprogress fasttransform plum-dispatch beartype python-fasthtml
        beautifulsoup4 soupsieve httpx2 httpcore2 truststore itsdangerous oauthlib python-multipart starlette
        uvicorn)
SPACY=(spacy thinc blis cymem preshed murmurhash srsly wasabi catalogue confection weasel spacy-legacy
       spacy-loggers cloudpathlib smart-open pydantic pydantic-core annotated-types typing-inspection)

mkdir -p .gpu/whl_small .whl
download .gpu/whl_small "${FASTAI[@]}"
cp .gpu/whl_small/*.whl .whl/
download .whl "${SPACY[@]}"

mkdir -p .gpu/data/pretrain
cp -r "$DATA/trec" "$DATA/imdb_sample" .gpu/data/
"$PY" -c "import itertools, lzma, sys
with lzma.open(sys.argv[1], 'rt', encoding='utf-8') as f, lzma.open(sys.argv[2], 'wt', encoding='utf-8') as out:
    out.writelines(itertools.islice(f, 100))" "$DATA/pretrain/enwiki2014-00.jsonl.xz" .gpu/data/pretrain/enwiki2014-00.jsonl.xz

"$PY" benchmarks/gpu_pretrain.py pack --data-home "$DATA" --cache "$CACHE" \
    --vocab-from sk_ulmfit/pretrained_models/english_fwd.pt --max-vocab 20000 --tokens 45M --out .gpu/slice20k

du -sh .whl .gpu/whl_small .gpu/data .gpu/slice20k
echo "carry: checks needs .whl and .gpu/data; pretrain needs .gpu/whl_small and .gpu/slice20k (each under 64 MiB)"
