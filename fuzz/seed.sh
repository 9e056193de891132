#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the repository's tiny checkpoints (corpora are not committed).
#   bash fuzz/seed.sh            all targets
set -euo pipefail
cd "$(dirname "$0")"
data=../tests/data
mkdir -p corpus/sstable corpus/bundle corpus/slice_key corpus/object_graph

# sstable: every small .index (good TF fixtures and the bad/ cases).
find "$data" -name '*.index' -size -16k | while read -r f; do
  cp "$f" "corpus/sstable/$(echo "${f#$data/}" | tr / _)"
done

# bundle: index || data (the target splits after the footer magic), for single-shard bundles.
find "$data" -name '*.index' -size -16k | while read -r idx; do
  p=${idx%.index}
  d="$p.data-00000-of-00001"
  out="corpus/bundle/$(echo "${p#$data/}" | tr / _)"
  if [ -f "$d" ] && [ "$(stat -c %s "$d")" -lt 65536 ]; then cat "$idx" "$d" > "$out"; else cp "$idx" "$out"; fi
done

# slice_key: real slice keys from TF (spec §2.6 examples) and a few edge shapes.
printf '\x00part_var\x00\x01\x01\x02\x80\x82\x80\x7f' > corpus/slice_key/spec_example
printf '\x00w\x00\x01\x01\x01\x85\x81' > corpus/slice_key/rank1
printf '\x00a\x00\xff\x00\x01\x01\x01\xc0\x80\xff\xc0\x00\x00\x00\x00\x00\x00\x00\x00' > corpus/slice_key/escapes_wide
printf '\x00\x00\x01\x00' > corpus/slice_key/rank0

# object_graph: the serialized graphs inside the fixtures' string tensors (python extracts them).
python3 - "$data" corpus/object_graph <<'PY'
import sys, pathlib
out = pathlib.Path(sys.argv[2])
# A scalar DT_STRING payload is: varint len | 4-byte length crc | bytes. The object graph is the
# last tensor TF writes, so its payload ends the data file: find a plausible one by scanning.
for data in pathlib.Path(sys.argv[1]).rglob("*.data-00000-of-00001"):
    b = data.read_bytes()
    if len(b) > 1 << 20:
        continue
    for start in range(len(b)):
        n, shift, i = 0, 0, start
        while i < len(b) and b[i] & 0x80 and shift < 28:
            n |= (b[i] & 0x7F) << shift; shift += 7; i += 1
        if i >= len(b):
            break
        n |= b[i] << shift
        if n > 8 and i + 1 + 4 + n == len(b) and b[i + 5:i + 6] == b"\x0a":
            (out / data.parent.name).write_bytes(b[i + 5:])
            break
PY
printf '\x0a\x00' > corpus/object_graph/one_empty_node
# saved_model: every small saved_model.pb (good and bad fixtures), and some with their
# keras_metadata.pb / bundle object graph after the "#REST#" separator the target splits on.
mkdir -p corpus/saved_model
find "$data/saved_model" "$data/bad_saved_model" -name saved_model.pb -size -70k | while read -r f; do
  cp "$f" "corpus/saved_model/$(echo "${f#$data/}" | tr / _)"
done
for c in tfk_seq_notraces tfk_legacy_opt; do
  m="$data/saved_model/$c/model"
  { cat "$m/saved_model.pb"; printf '#REST#'; cat "$m/keras_metadata.pb"; } > "corpus/saved_model/with_md_$c"
done
python3 - "$data/saved_model" corpus/saved_model <<'PY'
import sys, pathlib
out = pathlib.Path(sys.argv[2])
# The bundle's object graph ends the data file (see the object_graph step above).
for model in sorted(pathlib.Path(sys.argv[1]).glob("*/model")):
    b = (model / "variables" / "variables.data-00000-of-00001").read_bytes()
    pb = (model / "saved_model.pb").read_bytes()
    if len(pb) > 70_000:
        continue
    for start in range(len(b)):
        n, shift, i = 0, 0, start
        while i < len(b) and b[i] & 0x80 and shift < 28:
            n |= (b[i] & 0x7F) << shift; shift += 7; i += 1
        if i >= len(b):
            break
        n |= b[i] << shift
        if n > 8 and i + 1 + 4 + n == len(b) and b[i + 5:i + 6] == b"\x0a":
            (out / f"with_graph_{model.parent.name}").write_bytes(pb + b"#REST#" + b[i + 5:])
            break
PY
for t in sstable bundle slice_key object_graph saved_model; do echo "$t: $(ls corpus/$t | wc -l) seeds"; done
