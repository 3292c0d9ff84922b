#!/usr/bin/env bash
# Builds Tests/Consumer, a package that depends on SwiftQuant by version as a user would, and
# runs it on a checkpoint the CLI converts from Samples/tiny-llama.safetensors.
#
#   bash Tests/Consumer/run.sh [SWIFTQUANT_BINARY]
#
# The committed HEAD (not uncommitted edits) is pushed to a temporary bare repository and tagged
# 0.1.0; the consumer resolves `.package(url: "file://…", from: "0.1.0")` against it (its own
# dependencies resolve from the machine's package copies, offline). Builds go to
# .build-consumer/ (git-ignored). Prints "consumer: passed" or exits non-zero.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

# SwiftPM refuses unsafe build flags in a versioned dependency; this build proves there are none.

swiftquant="${1:-}"
if [ -z "$swiftquant" ]; then
    swift build -c release --product swiftquant >/dev/null
    swiftquant="$(swift build -c release --show-bin-path)/swiftquant"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/swiftquant-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
git init -q --bare "$work/SwiftQuant.git"
git push -q "$work/SwiftQuant.git" "$(git rev-parse HEAD):refs/heads/main"
git -C "$work/SwiftQuant.git" tag 0.1.0 main
echo "consumer: SwiftQuant $(git rev-parse --short HEAD) tagged 0.1.0 at $work/SwiftQuant.git" >&2

"$swiftquant" convert Samples/tiny-llama.safetensors -o "$work/tiny.swq" --quiet
"$swiftquant" export "$work/tiny.swq" -o "$work/dequantized.safetensors" --layout dequantized --dtype f32

# A llama-style folder from the sample's weights (vocabulary 1024, hidden 128, 2 layers): its
# config.json here, a byte-level BPE tokenizer.json trained with the tokenizers package.
llama="$work/tiny-llama"
mkdir -p "$llama"
cp Samples/tiny-llama.safetensors "$llama/model.safetensors"
cat >"$llama/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 1024, "hidden_size": 128,
 "intermediate_size": 352, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 256, "tie_word_embeddings": false,
 "bos_token_id": 1, "eos_token_id": 2}
JSON
python3 - "$llama" <<'PY'
import sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
tokenizer.train_from_iterator([open("README.md", encoding="utf-8").read()], trainers.BpeTrainer(
    vocab_size=1024, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
tokenizer.save(sys.argv[1] + "/tokenizer.json")
PY
"$swiftquant" convert "$llama" -o "$work/tiny-llama.swq" --quiet

# A fresh scratch folder each run: a cached checkout of an earlier 0.1.0 must not be reused.
scratch="$root/.build-consumer"
rm -rf "$scratch"
SWIFTQUANT_PACKAGE_URL="file://$work/SwiftQuant.git" \
    swift build --package-path Tests/Consumer --scratch-path "$scratch" -c release
"$scratch/release/consumer" "$work/tiny.swq" "$work/dequantized.safetensors" "$work/tiny-llama.swq" | tee "$work/consumer.out"
# The README example's ids and text, checked against the tokenizers package on the same tokenizer.json.
python3 - "$llama/tokenizer.json" "$work/consumer.out" <<'PY'
import json, sys
from tokenizers import Tokenizer
tokenizer = Tokenizer.from_file(sys.argv[1])
line = [l for l in open(sys.argv[2], encoding="utf-8") if l.startswith("consumer-generate: ")][-1]
result = json.loads(line[len("consumer-generate: "):])
assert result["prompt"] == tokenizer.encode("Once upon a time").ids, (result["prompt"], tokenizer.encode("Once upon a time").ids)
assert len(result["tokens"]) > 0 and result["text"] == tokenizer.decode(result["tokens"]), result
print(f"consumer: generated {len(result['tokens'])} tokens from the converted llama; prompt ids and text equal the tokenizers package's")
PY
echo "consumer: passed"
