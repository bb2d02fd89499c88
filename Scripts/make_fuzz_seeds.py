#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (Tests/Fuzz/Corpus/<surface>/): small valid files of every input format,
named valid-*, and a few near misses. Needs only numpy. The corpora are committed; rerun after a format changes.

The micro model's weights match AlvlmFuzzSurfaces' MicroModel: Hugging Face CLIP naming, towers of width 8 with
one layer, 2 heads and an MLP of 16, 8x8 images in 4x4 patches, an 8-token context, a 16-token vocabulary and a
4-wide embedding."""
import json, os, struct
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fuzz", "Corpus")
fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")
rng = np.random.default_rng(0)


def put(surface, name, data):
    d = os.path.join(root, surface)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    header, offset, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, array in tensors:
        raw = array.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def micro_tensors():
    w, mlp, vocab, ctx, embed, patch, grid = 8, 16, 16, 8, 4, 4, 2
    t = []
    def normal(*shape): return rng.standard_normal(shape).astype(np.float32) * 0.02
    def layer(prefix):
        for p in ("q", "k", "v", "out"):
            t.append((f"{prefix}.self_attn.{p}_proj.weight", normal(w, w)))
            t.append((f"{prefix}.self_attn.{p}_proj.bias", np.zeros(w)))
        for n in ("layer_norm1", "layer_norm2"):
            t.append((f"{prefix}.{n}.weight", np.ones(w)))
            t.append((f"{prefix}.{n}.bias", np.zeros(w)))
        t.append((f"{prefix}.mlp.fc1.weight", normal(mlp, w)))
        t.append((f"{prefix}.mlp.fc1.bias", np.zeros(mlp)))
        t.append((f"{prefix}.mlp.fc2.weight", normal(w, mlp)))
        t.append((f"{prefix}.mlp.fc2.bias", np.zeros(w)))
    t.append(("text_model.embeddings.token_embedding.weight", normal(vocab, w)))
    t.append(("text_model.embeddings.position_embedding.weight", normal(ctx, w)))
    layer("text_model.encoder.layers.0")
    t.append(("text_model.final_layer_norm.weight", np.ones(w)))
    t.append(("text_model.final_layer_norm.bias", np.zeros(w)))
    t.append(("text_projection.weight", normal(embed, w)))
    t.append(("vision_model.embeddings.class_embedding", normal(w)))
    t.append(("vision_model.embeddings.patch_embedding.weight", normal(w, 3, patch, patch)))
    t.append(("vision_model.embeddings.position_embedding.weight", normal(grid * grid + 1, w)))
    t.append(("vision_model.pre_layrnorm.weight", np.ones(w)))
    t.append(("vision_model.pre_layrnorm.bias", np.zeros(w)))
    layer("vision_model.encoder.layers.0")
    t.append(("vision_model.post_layernorm.weight", np.ones(w)))
    t.append(("vision_model.post_layernorm.bias", np.zeros(w)))
    t.append(("visual_projection.weight", normal(embed, w)))
    t.append(("logit_scale", np.array(2.6592, dtype=np.float32)))
    return t


hf_config = {"projection_dim": 4,
             "text_config": {"hidden_size": 8, "intermediate_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1,
                             "max_position_embeddings": 8, "vocab_size": 16, "hidden_act": "quick_gelu"},
             "vision_config": {"hidden_size": 8, "intermediate_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1,
                               "image_size": 8, "patch_size": 4, "hidden_act": "quick_gelu"}}
openclip_config = {"embed_dim": 4,
                   "vision_cfg": {"image_size": 8, "layers": 1, "width": 8, "head_width": 4, "mlp_ratio": 2, "patch_size": 4},
                   "text_cfg": {"context_length": 8, "vocab_size": 16, "width": 8, "heads": 2, "layers": 1}}

# Model files.
micro = micro_tensors()
put("safetensors", "valid-micro.safetensors", safetensors(micro, {"format": "pt"}))
put("safetensors", "truncated.safetensors", safetensors(micro)[:600])
put("safetensors", "one-tensor.safetensors", safetensors([("logit_scale", np.array(1.0))]))
put("config", "valid-hf.json", b"\x00" + json.dumps(hf_config, indent=1).encode())
put("config", "openclip.json", b"\x01" + json.dumps({"model_cfg": openclip_config}, indent=1).encode())

# Arrays.
def npy(array):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (array.dtype.str, repr(tuple(array.shape)))
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + array.tobytes()
put("npy", "valid-f32.npy", npy(rng.standard_normal((3, 4)).astype("<f4")))
put("npy", "valid-u8.npy", npy(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)))
put("npy", "valid-f64-scalar.npy", npy(np.array(1.5, dtype="<f8")))
put("npy", "valid-i64.npy", npy(np.arange(5, dtype="<i8")))

# Images: the smallest committed fixtures of each kind.
for name in ("png_palette_120x160.png", "jpeg_baseline_320x240.jpg", "png_gray16_150x100.png"):
    with open(os.path.join(fixtures, "images", name), "rb") as f:
        put("image", "valid-" + name, f.read())

# Tokenizer: text (first byte even), or vocab.json NUL merges.txt (odd): the 512 byte symbols, a few merges, specials.
put("tokenizer", "valid-text", b"\x00A photo of a <b>tree frog</b> &amp; caf\xc3\xa9, 1234's   \xe2\x80\x94 \xf0\x9f\x90\xb8!")
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
symbols = [chr(c) for c in cs]
vocab = symbols + [s + "</w>" for s in symbols] + ["ph", "ot", "pho", "to</w>", "photo</w>", "<|startoftext|>", "<|endoftext|>"]
merges = ["#version: 0.2", "p h", "o t", "ph o", "t o</w>", "pho to</w>"]
put("tokenizer", "valid-files", b"\x01" + json.dumps({s: i for i, s in enumerate(vocab)}).encode() + b"\x00" + "\n".join(merges).encode())

# The language.
for name in ("arithmetic.al", "collections.al", "functions.al"):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "AlvlmLanguageTests", "Scripts", name), "rb") as f:
        put("language", "script-" + name, f.read())   # these expect some errors
put("language", "valid-loops.al", 'fn f(n) {\n  if n < 2 {\n    return n\n  }\n  return f(n - 1) + f(n - 2)\n}\nxs = []\nfor i in 0..10 { xs = xs + [f(i)] }\n'
    'r = {name: "a", v: [1, 2.5, -3e2]}\nfor x in xs { if x % 2 == 0 { print(str(x) + "!") } }\nprint([sum(xs), mean(xs), sort(xs)[0], r.name, percent(0.25), round(2.567, 1), abs(-2), min(xs), max(xs), len(r)])\n')

# Notebooks.
notebook = ('# %% [markdown]\n# # A notebook\n# with *prose*\n\n# %% tags=["parameters"]\nbudget = 2\nname = "cec"\nfast = true\n\n'
            '# %% id="sum"\nx = budget * 3\nprint(x)\n# expect: 6\n\n# %% [markdown]\n# The end.\n')
put("notebook", "valid-params.alnb", notebook.encode() + b"\x00budget=5\nname=\"dal\"")
put("notebook", "valid-plain.alnb", "# %%\nprint(1 + 1)\n# expect: 2\n")
put("notebook", "valid-jupyter.ipynb", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# Title\n", "text"]},
    {"cell_type": "code", "id": "b", "metadata": {"tags": ["parameters"]}, "source": "n = 3", "outputs": [], "execution_count": None},
    {"cell_type": "code", "id": "c", "metadata": {}, "source": ["print(n)\n"], "outputs": [], "execution_count": 1}]}))

# Answers against the small pool (ids 0-7 train; classes cat, dog, tree frog).
put("answers", "valid-answers.csv", "id,label\n0,cat\n1,Dog\n2,\n3,2\n4,\"tree frog\"\n")
put("answers", "valid-labelstudio.json", json.dumps([
    {"id": 1, "data": {"alvlm_id": 0, "image": "0.png"}, "annotations": [{"result": [{"value": {"choices": ["dog"]}}], "was_cancelled": False}]},
    {"id": 2, "data": {"alvlm_id": 5, "image": "5.png"}, "annotations": [{"result": [], "was_cancelled": True}]}]))
put("answers", "valid-json-min.json", json.dumps([{"alvlm_id": 1, "image": "1.png", "choice": "cat"}, {"alvlm_id": 6, "label": {"choices": ["tree frog"]}}]))

# Pool lists (beside a.png, b.png, c.png and d.png).
put("pool-csv", "valid-pool.csv", "path,label,split\na.png,cat,train\nb.png,dog,train\nc.png,cat,test\nd.png,dog,val\n")
put("pool-csv", "valid-two-columns.csv", "a.png,cat\nb.png,dog\n")

# Saved experiments on the small pool.
def round_record(i, queried):
    return {"accuracy": 0.5, "classesCovered": 2, "expectedCalibrationError": 0.1, "labelsUsed": 2 * i, "perClassAccuracy": [0, 1, 0.5],
            "queried": queried, "round": i, "scores": [1.5, None], "seconds": {"select": 0.01}, "seed": 12345 + i}
cec = {"beta": 1, "calibrate": True, "clustering": "weighted", "delta": 0, "dropoutIterations": 3, "dropoutRate": 0.75, "gcnEpochs": 200,
       "kernel": "rbf", "maximumClusters": 500, "minimumClusterSize": 5, "name": "cec", "neighbours": 3, "pcb": False, "prior": "union",
       "purity": 0.95, "rho": 1, "support": 10, "typicalNeighbours": 20}
state = {"config": {"budget": {"count": {"_0": 2}}, "rounds": 3, "seed": 3, "strategy": cec, "trainer": {"linearProbe": {}}},
         "journalID": "8a9a667c", "labeled": {"0": 1, "3": 0, "5": 2, "6": 2}, "model": "micro", "pool": "fuzz", "poolFingerprint": 1,
         "rounds": [round_record(1, [0, 3]), round_record(2, [5, 6])], "skipped": [7], "version": 1}
put("experiment", "valid-linear-probe.json", json.dumps(state, indent=1))
coop = dict(state)
coop["config"] = {"budget": {"percent": {"_0": 25}}, "rounds": 2, "seed": 1, "strategy": {"name": "entropy", "balance": "pcb"},
                  "trainer": {"coop": {"epochs": 2, "learningRate": 0.002, "batchSize": 4, "weightDecay": 0.005, "contextLength": 4,
                                       "contextInit": "a photo of a", "classSpecific": False}}}
coop["rounds"] = [round_record(1, [0, 3])]
coop["context"] = [0.5] * 32
put("experiment", "valid-coop.json", json.dumps(coop, indent=1))
bad = dict(state)
bad["labeled"] = {"0": 7}
with open(os.path.join(root, "..", "Regressions", "experiment", "refused-label-outside-classes.json"), "w") as f:
    f.write(json.dumps(bad))   # a regression: the loader must refuse it

# Label journals.
put("journal", "valid-journal", "0\t1\tfuzz@1\tlabel()\n3\t0\tfuzz@1\texperiment 8a9a667c\n3\t-1\tfuzz@1\tlabel()\n5\t2\ttextures@0\tanswers.csv\n9\t")

# Sweep plans (sweep.json).
plan = {"budget": {"count": {"_0": 5}}, "fingerprint": "96e8845efc8ff99a", "labels": ["random", "cec (k=5)"], "masterSeed": 0,
        "model": "tiny", "rounds": 2, "seeds": [915547793, 893192944],
        "strategies": [{"name": "random"}, dict(cec, neighbours=5)], "trainer": {"linearProbe": {}}, "version": 1}
put("sweep", "valid-compare.json", json.dumps(plan, indent=1))
put("sweep", "valid-coop.json", json.dumps(dict(plan, trainer=coop["config"]["trainer"], budget={"percent": {"_0": 1}}), indent=1))
put("sweep", "valid-encode.json", json.dumps({"budget": {"count": {"_0": 1}}, "encodeShards": 4, "fingerprint": "1", "labels": [], "masterSeed": 0,
                                              "model": "tiny", "rounds": 0, "seeds": [], "strategies": [], "trainer": {"none": {}}, "version": 1}))
with open(os.path.join(root, "..", "Regressions", "sweep", "refused-fewer-names-than-strategies.json"), "w") as f:
    f.write(json.dumps(dict(plan, labels=["random"])))   # a regression: task 3's name was looked up past the list
