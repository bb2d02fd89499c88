#!/usr/bin/env python3
"""Generate the golden test fixtures in Tests/Fixtures/ from the REFERENCE
implementations (PyTorch transformers, open_clip_torch, torchvision, Pillow).

This script is run by hand, never in CI.  The Swift tests only read what it
wrote; the fixtures are committed.  Re-running it with the same package
versions reproduces every file byte for byte (fixed seeds, one thread).

Setup (outside the repository; PyPI only; the torch wheel is large, ~6 GB with
its CUDA dependencies, which is fine):

    python3 -m venv /work/refenv
    /work/refenv/bin/pip install torch torchvision transformers open_clip_torch \
        pillow numpy safetensors ftfy regex
    # Class-name lists and the original OpenAI tokenizer come from these wheels.
    # --no-deps: only their data files / one pure-Python module are used, and
    # tensorflow_datasets is never imported (no TensorFlow needed).
    /work/refenv/bin/pip install --no-deps clip-benchmark==1.6.2 \
        tensorflow-datasets==4.9.10 clip-anytorch==2.6.0

Run (from anywhere):

    /work/refenv/bin/python Scripts/make_fixtures.py

Versions the committed fixtures were made with: see Tests/Fixtures/versions.json
(written by this script).

What it writes (all .npy files: numpy format v1.0, little-endian, C order):

  tiny-clip/             HF CLIPModel, float32, quick_gelu, seed 0
  tiny-clip-f16-gelu/    HF CLIPModel, float16 on disk, erf gelu, seed 1, plus
                         the legacy int64 *.embeddings.position_ids tensors
  tiny-openclip/         open_clip CLIP (OpenAI key names), quick_gelu, seed 2
      each with: image_features.npy (N,16) f32, text_features.npy (T,16) f32,
      logits_per_image.npy (N,T) f32, texts.json (list of T strings),
      text_ids.json (the T unpadded open_clip id lists), logit_scale.json,
      vocab.json, merges.txt
  images/                procedurally generated test images in various
                         formats, NAME.rgb.npy (decoded, HxWx3 uint8),
                         pixels_u8.npy (N,224,224,3 uint8, OpenAI/open_clip
                         preprocessing before ToTensor) and reference.json
  tokens.json            open_clip tokenizer ids for class names of the CoOp
                         datasets and for ~80 hard strings
  versions.json          package versions used
  README.md              what the Swift tests can rely on
"""

import gzip
import hashlib
import importlib.util
import json
import math
import shutil
import struct
import sys
import unicodedata
import zlib
import ast
from pathlib import Path

import numpy as np
import torch
import PIL
from PIL import Image, features as pil_features
import torchvision
from torchvision import transforms as T
import transformers
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
import open_clip
from open_clip.tokenizer import bytes_to_unicode, default_bpe
import safetensors
from safetensors.torch import save_file, load_file
import ftfy

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "Tests" / "Fixtures"

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
SOT, EOT = 49406, 49407
CONTEXT = 77
EMBED = 16

# One thread and deterministic kernels: float results then do not depend on
# the machine's core count.
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def write_json(path, obj, compact=False):
    """UTF-8 JSON, non-ASCII characters kept as they are (JSON still escapes
    control characters such as \\t and \\n)."""
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def package_dir(module_name):
    """Directory of an installed package, found WITHOUT importing it
    (tensorflow_datasets would import TensorFlow; clip-anytorch's __init__
    needs pkg_resources, which recent setuptools no longer ships)."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {module_name!r} is missing: see the setup lines at the top of this file")
    return Path(list(spec.submodule_search_locations)[0])


def load_module_from_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------
# Tokenizer files: vocab.json + merges.txt exactly as the Hugging Face
# openai/clip-vit-base-patch32 repo has them, built from open_clip's copy of
# bpe_simple_vocab_16e6.txt.gz (sha256 924691ac...).
# ---------------------------------------------------------------------------

def build_tokenizer_files():
    raw = open(default_bpe(), "rb").read()
    sha = hashlib.sha256(raw).hexdigest()
    assert sha == "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a", sha
    lines = gzip.decompress(raw).decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]          # 48,894 merges; the rest is unused
    assert len(merges) == 48894
    byte_chars = list(bytes_to_unicode().values())  # ids 0..255
    vocab = byte_chars + [c + "</w>" for c in byte_chars]   # ids 256..511
    vocab += ["".join(m.split()) for m in merges]            # ids 512..49405
    vocab += ["<|startoftext|>", "<|endoftext|>"]             # 49406, 49407
    assert len(vocab) == 49408 and len(set(vocab)) == 49408
    # HF's file is one line, compact separators, non-ASCII kept: 862,328 bytes.
    vocab_json = json.dumps({t: i for i, t in enumerate(vocab)},
                            ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert len(vocab_json) == 862328, len(vocab_json)
    merges_txt = ("#version: 0.2\n" + "\n".join(merges) + "\n").encode("utf-8")
    return vocab_json, merges_txt


def write_tokenizer_files(dirpath, vocab_json, merges_txt):
    (dirpath / "vocab.json").write_bytes(vocab_json)
    (dirpath / "merges.txt").write_bytes(merges_txt)


# ---------------------------------------------------------------------------
# open_clip tokenizer (the reference for ids) and the original OpenAI one
# (from clip-anytorch, for the few inputs where the two differ).
# ---------------------------------------------------------------------------

OC_TOKENIZER = open_clip.tokenizer.SimpleTokenizer()
_OPENAI_ST = load_module_from_file(
    "openai_simple_tokenizer", package_dir("clip") / "simple_tokenizer.py")
OPENAI_TOKENIZER = _OPENAI_ST.SimpleTokenizer()


def openclip_ids(text):
    """ids of open_clip.tokenize(text) from SOT to the first EOT inclusive, no
    padding.  Over-long input is truncated to 77 with EOT last, exactly as
    open_clip.tokenize does."""
    row = open_clip.tokenize([text])[0].tolist()
    ids = [SOT] + OC_TOKENIZER.encode(text) + [EOT]
    if len(ids) > CONTEXT:
        ids = ids[:CONTEXT]
        ids[-1] = EOT
    # Cross-check against the padded tensor open_clip.tokenize returns.
    assert row[:len(ids)] == ids and all(v == 0 for v in row[len(ids):]), text
    return ids


def openai_ids(text):
    """openai/CLIP clip.tokenize(text, truncate=True), unpadded."""
    ids = [SOT] + OPENAI_TOKENIZER.encode(text) + [EOT]
    if len(ids) > CONTEXT:
        ids = ids[:CONTEXT]
        ids[-1] = EOT
    return ids


# ENGINE.md section 3 "Reference vectors": must come out identical.
ENGINE_TABLE = [
    ("hello world", [49406, 3306, 1002, 49407]),
    ("a photo of a dog.", [49406, 320, 1125, 539, 320, 1929, 269, 49407]),
    ("a photo of a cat.", [49406, 320, 1125, 539, 320, 2368, 269, 49407]),
    ("X X X X cat.", [49406, 343, 343, 343, 343, 2368, 269, 49407]),
    ("You should've done this", [49406, 592, 1535, 1200, 1700, 589, 49407]),
    ("hello!!! 2024 café", [49406, 3306, 995, 273, 271, 273, 275, 15304, 49407]),
    ("A  Photo\tof   THE Eiffel-Tower", [49406, 320, 1125, 539, 518, 29720, 268, 4730, 49407]),
    ("&amp; rock &amp;amp; roll", [49406, 261, 2172, 261, 3341, 49407]),
]


# ---------------------------------------------------------------------------
# Class names of the 11 CoOp datasets.
#
# Sources (CoOp itself reads the names from the dataset archives, which are
# not available here; the names below reproduce CoOp's transformations from
# KaiyangZhou/CoOp datasets/*.py, then trainers/coop.py's name.replace("_"," ")):
#   ImageNet      open_clip.IMAGENET_CLASSNAMES (OpenAI's curated names), first 200
#   Caltech101    tensorflow_datasets image_classification/caltech101_labels.txt
#                 (lower-cased folder names) minus background_google and
#                 faces_easy, renamed airplanes/faces/leopards/motorbikes like
#                 CoOp's NEW_CNAMES -> 100 classes
#   DTD           tensorflow_datasets image_classification/dtd_key_attributes.txt (47)
#   EuroSAT       CoOp datasets/eurosat.py NEW_CNAMES, copied below (10)
#   FGVCAircraft  the 100 variant names (= variants.txt that CoOp reads),
#                 copied below from openai/CLIP data/prompts.md
#   Food101       tensorflow_datasets image_classification/food-101_classes.txt (101)
#   Flowers102    clip_benchmark datasets/en_classnames.json "flowers" (102,
#                 the cat_to_name.json names CoOp uses)
#   OxfordPets    clip_benchmark en_classnames.json "pets", lower-cased like
#                 CoOp's oxford_pets.py (37)
#   StanfordCars  tensorflow_datasets image_classification/cars196.py _NAMES
#                 (cars_meta.mat names), year moved to the front like CoOp's
#                 stanford_cars.py (196)
#   SUN397        tensorflow_datasets image_classification/sun397_labels.txt,
#                 "/a/apartment_building/outdoor" -> "outdoor apartment building"
#                 like CoOp's sun397.py (397)
#   UCF101        tensorflow_datasets video/ucf101_labels.txt, CamelCase split
#                 with re.findall("[A-Z][^A-Z]*") like CoOp's ucf101.py (101)
# ---------------------------------------------------------------------------

EUROSAT_COOP = ["Annual Crop Land", "Forest", "Herbaceous Vegetation Land", "Highway or Road",
                "Industrial Buildings", "Pasture Land", "Permanent Crop Land",
                "Residential Buildings", "River", "Sea or Lake"]

FGVC_AIRCRAFT = [
    "707-320", "727-200", "737-200", "737-300", "737-400", "737-500", "737-600", "737-700",
    "737-800", "737-900", "747-100", "747-200", "747-300", "747-400", "757-200", "757-300",
    "767-200", "767-300", "767-400", "777-200", "777-300", "A300B4", "A310", "A318", "A319",
    "A320", "A321", "A330-200", "A330-300", "A340-200", "A340-300", "A340-500", "A340-600",
    "A380", "ATR-42", "ATR-72", "An-12", "BAE 146-200", "BAE 146-300", "BAE-125",
    "Beechcraft 1900", "Boeing 717", "C-130", "C-47", "CRJ-200", "CRJ-700", "CRJ-900",
    "Cessna 172", "Cessna 208", "Cessna 525", "Cessna 560", "Challenger 600", "DC-10", "DC-3",
    "DC-6", "DC-8", "DC-9-30", "DH-82", "DHC-1", "DHC-6", "DHC-8-100", "DHC-8-300", "DR-400",
    "Dornier 328", "E-170", "E-190", "E-195", "EMB-120", "ERJ 135", "ERJ 145",
    "Embraer Legacy 600", "Eurofighter Typhoon", "F-16A/B", "F/A-18", "Falcon 2000",
    "Falcon 900", "Fokker 100", "Fokker 50", "Fokker 70", "Global Express", "Gulfstream IV",
    "Gulfstream V", "Hawk T1", "Il-76", "L-1011", "MD-11", "MD-80", "MD-87", "MD-90",
    "Metroliner", "Model B200", "PA-28", "SR-20", "Saab 2000", "Saab 340", "Spitfire",
    "Tornado", "Tu-134", "Tu-154", "Yak-42",
]


def coop_classnames():
    import re
    tfds = package_dir("tensorflow_datasets")
    cb = package_dir("clip_benchmark")

    def lines(rel):
        return [l.strip() for l in (tfds / rel).read_text(encoding="utf-8").splitlines() if l.strip()]

    en = json.loads((cb / "datasets" / "en_classnames.json").read_text(encoding="utf-8"))

    caltech_rename = {"airplanes": "airplane", "faces": "face", "leopards": "leopard",
                      "motorbikes": "motorbike"}
    caltech = [caltech_rename.get(n, n) for n in lines("image_classification/caltech101_labels.txt")
               if n not in ("background_google", "faces_easy")]

    # cars196.py is parsed, not imported (importing it would import TensorFlow).
    tree = ast.parse((tfds / "image_classification" / "cars196.py").read_text(encoding="utf-8"))
    cars_meta = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_NAMES" for t in node.targets):
            cars_meta = ast.literal_eval(node.value)
    cars = []
    for name in cars_meta:
        parts = name.split(" ")
        year = parts.pop(-1)
        cars.append(" ".join([year] + parts))

    sun = []
    for line in lines("image_classification/sun397_labels.txt"):
        names = line[1:].split("/")[1:]          # drop "/" and the first letter
        sun.append(" ".join(names[::-1]))        # "outdoor apartment_building"

    ucf = ["_".join(re.findall("[A-Z][^A-Z]*", a)) for a in lines("video/ucf101_labels.txt")]

    lists = {
        "imagenet": list(open_clip.IMAGENET_CLASSNAMES[:200]),
        "caltech101": caltech,
        "dtd": lines("image_classification/dtd_key_attributes.txt"),
        "eurosat": EUROSAT_COOP,
        "fgvc_aircraft": FGVC_AIRCRAFT,
        "food101": lines("image_classification/food-101_classes.txt"),
        "oxford_flowers": en["flowers"],
        "oxford_pets": [n.lower() for n in en["pets"]],
        "stanford_cars": cars,
        "sun397": sun,
        "ucf101": ucf,
    }
    expected = {"imagenet": 200, "caltech101": 100, "dtd": 47, "eurosat": 10, "fgvc_aircraft": 100,
                "food101": 101, "oxford_flowers": 102, "oxford_pets": 37, "stanford_cars": 196,
                "sun397": 397, "ucf101": 101}
    for k, v in lists.items():
        assert len(v) == expected[k], (k, len(v))
    # CoOp: classnames = [name.replace("_", " ") for name in classnames]
    return {k: [n.replace("_", " ") for n in v] for k, v in lists.items()}


# ---------------------------------------------------------------------------
# Hard strings for the tokenizer.  Escapes keep invisible characters visible.
# ---------------------------------------------------------------------------

def long_text(n_words=500):
    words = ("the quick brown fox jumps over lazy dog while a small cat sleeps on warm "
             "window sill near old wooden table covered with books maps and photographs "
             "of distant mountains rivers cities").split()
    rng = np.random.default_rng(1234)
    return " ".join(words[i] for i in rng.integers(0, len(words), n_words))


def hard_strings():
    creme = "Cr\u00e8me br\u00fbl\u00e9e"
    hangul = "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8"            # 한국어 텍스트
    s = [
        # empty and whitespace
        "", " ", "   \t\n  ", "\u3000", "\u00a0\u00a0",
        # tabs, newlines, runs of spaces, other line breaks
        "a\tb\nc\r\nd", "  leading and trailing  ", "multiple     spaces   here",
        "line\u2028separator\u2029paragraph", "next\u0085line", "vertical\x0btab\x0cfeed",
        "ideographic\u3000space and thin\u2009space", "zero\u200bwidth\u200bspace",
        # accents, NFC and NFD forms (ftfy normalises to NFC)
        creme, unicodedata.normalize("NFD", creme),
        "caf\u00e9", "cafe\u0301", "na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m",
        hangul, unicodedata.normalize("NFD", hangul),
        "\u00c9COLE \u00c0 PARIS", "Stra\u00dfe STRASSE \u1e9e",
        "\u0130stanbul \u0131rmak",                                  # dotted capital I
        "\u039f\u0394\u039f\u03a3 \u03a3\u0399\u03a3\u03a5\u03a6\u039f\u03a3",   # ΟΔΟΣ ΣΙΣΥΦΟΣ
        "Z\u0351\u036b\u0343a\u0310\u0352l\u0357g\u0363o\u0364",    # zalgo combining marks
        # scripts
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",          # 日本語のテキスト
        "\u4e2d\u6587\u6d4b\u8bd5 \u7e41\u9ad4\u4e2d\u6587",          # 中文测试 繁體中文
        "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",  # Arabic
        "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",          # Hebrew
        "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",  # Devanagari (marks!)
        "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",                      # Thai (combining vowels)
        "\u0441\u0444\u043e\u0442\u043e\u0433\u0440\u0430\u0444\u0438\u0440\u043e\u0432\u0430\u043d\u043d\u044b\u0439 \u043a\u043e\u0442",
        "\u210c\U0001d522\U0001d529\U0001d529\U0001d52c \U0001d4b2\U0001d4b8\U0001d4c7",  # math letters (4-byte UTF-8)
        "\u24b6\u24d1\u24d2 circled",                                 # So, not L
        # emoji: plain, skin tones, ZWJ sequences, flags, keycaps, VS16
        "\U0001f44d", "\U0001f44d\U0001f3fd thumbs up",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
        "\U0001f3f3\ufe0f\u200d\U0001f308 rainbow flag", "\U0001f1ef\U0001f1f5\U0001f1fa\U0001f1f8",
        "1\ufe0f\u20e3 keycap", "I \u2764\ufe0f NY \U0001f5fd",
        "\U0001f9d1\U0001f3ff\u200d\U0001f52c scientist",
        # quotes, ligatures, widths
        "\u201cquoted\u201d and \u2018single\u2019 it\u2019s", "\u00abguillemets\u00bb \u201elow\u201c",
        "\ufb01nance \ufb02ower \ufb03ce", "\uff21\uff22\uff23\uff11\uff12\uff13 \uff46\uff55\uff4c\uff4c\uff0d\uff57\uff49\uff44\uff54\uff48",
        "\uff76\uff80\uff76\uff85 half-width katakana",
        # HTML entities (double unescape)
        "&amp;", "&lt;b&gt;bold&lt;/b&gt;", "it&#39;s", "it&#x27;s", "a&nbsp;b",
        "&amp;amp;", "&amp;amp;amp;", "&copy; 2024 &euro;5", "&notanentity; &amp",
        "<b>real tags</b> &amp; entity",
        # numbers and punctuation runs
        "3.14159 1,000,000 2024-01-01 12:30pm", "$9.99 100% v1.2.3 0x1F",
        "\u00bd \u00be x\u00b2 \u0663\u0664\u0665 \u216b",          # ½ ¾ x² ٣٤٥ Ⅻ
        "!!!???...", "\u2014\u2013-- ...\u2026", "(a)[b]{c} #hashtag @mention a/b\\c ***",
        "https://example.com/path?q=1&x=y user@example.com",
        # contractions, lower and upper case
        "it's they're we've you'll he'd I'm don't",
        "IT'S THEY'RE WE'VE YOU'LL HE'D I'M DON'T",
        "rock'n'roll o'clock ''quoted'' 'sup",
        # special-token literals: open_clip and OpenAI differ here
        "hello <|endoftext|> world", "<|startoftext|>", "hello <end_of_text> world", "<START_OF_TEXT>",
        # mojibake, terminal escapes, control characters (ftfy fixes or removes them)
        "caf\u00c3\u00a9", "don\u00e2\u20ac\u2122t", "\x1b[31mred\x1b[0m text", "a\x00b\x07c\x1cd",
        # case and word shapes
        "ThisIsCamelCase snake_case_name UPPER lower MiXeD",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        # truncation
        long_text(500),
        " ".join(["\U0001f9d1\U0001f3ff\u200d\U0001f52c"] * 20),          # truncation inside a multi-token emoji
    ]
    return s


def build_tokens_json(classnames):
    """Each distinct text once; "sources" lists every list it came from, so
    filtering on a source gives that dataset's complete class list."""
    entries, by_text = [], {}

    def add(text, source):
        if text in by_text:
            if source not in by_text[text]["sources"]:
                by_text[text]["sources"].append(source)
            return
        ids = openclip_ids(text)
        e = {"text": text, "sources": [source], "ids": ids}
        by_text[text] = e
        oa = openai_ids(text)
        if oa != ids:
            e["openai_ids"] = oa       # original openai/CLIP tokenizer differs
        entries.append(e)

    for text, ids in ENGINE_TABLE:
        got = openclip_ids(text)
        assert got == ids, (text, got, ids)
        assert openai_ids(text) == ids, text
        add(text, "engine_md_table")
    for ds, names in classnames.items():
        for n in names:
            add(n, ds)
        for n in names:
            add(f"a photo of a {n}.", ds + "_prompt")
    for s in hard_strings():
        add(s, "hard")
    return entries


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

LN_KEYS_HF = ("layer_norm1", "layer_norm2", "pre_layrnorm", "post_layernorm", "final_layer_norm")


def randn(gen, shape):
    return torch.randn(shape, generator=gen, dtype=torch.float32)


@torch.no_grad()
def randomize_hf(model, seed):
    """Every tensor gets a non-trivial value so that a mis-loaded tensor shows
    up in the outputs.  Conventions follow openai/CLIP initialize_parameters
    loosely; layer norms are perturbed away from (1, 0) and biases are nonzero."""
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name == "logit_scale":
            p.fill_(2.6592)
        elif any(k in name for k in LN_KEYS_HF):
            base = 1.0 if name.endswith("weight") else 0.0
            p.copy_(base + 0.1 * randn(gen, p.shape))
        elif name.endswith("token_embedding.weight"):
            p.copy_(0.02 * randn(gen, p.shape))
        elif name == "text_model.embeddings.position_embedding.weight":
            p.copy_(0.01 * randn(gen, p.shape))
        elif name in ("vision_model.embeddings.class_embedding",
                      "vision_model.embeddings.position_embedding.weight"):
            p.copy_(p.shape[-1] ** -0.5 * randn(gen, p.shape))
        elif name.endswith("patch_embedding.weight"):          # conv [w, 3, p, p]
            fan_in = p.shape[1] * p.shape[2] * p.shape[3]
            p.copy_(fan_in ** -0.5 * randn(gen, p.shape))
        elif name.endswith(".bias"):
            p.copy_(0.05 * randn(gen, p.shape))
        elif p.ndim == 2:                                       # nn.Linear [out, in]
            p.copy_(p.shape[1] ** -0.5 * randn(gen, p.shape))
        else:
            raise ValueError(f"unhandled parameter {name} {tuple(p.shape)}")


@torch.no_grad()
def randomize_openclip(model, seed):
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        leaf = name.split(".")[-2] if "." in name else name
        if name == "logit_scale":
            p.fill_(2.6592)
        elif leaf.startswith("ln_"):                            # ln_1, ln_2, ln_pre, ln_post, ln_final
            base = 1.0 if name.endswith("weight") else 0.0
            p.copy_(base + 0.1 * randn(gen, p.shape))
        elif name == "token_embedding.weight":
            p.copy_(0.02 * randn(gen, p.shape))
        elif name == "positional_embedding":
            p.copy_(0.01 * randn(gen, p.shape))
        elif name in ("visual.class_embedding", "visual.positional_embedding"):
            p.copy_(p.shape[-1] ** -0.5 * randn(gen, p.shape))
        elif name == "visual.conv1.weight":
            fan_in = p.shape[1] * p.shape[2] * p.shape[3]
            p.copy_(fan_in ** -0.5 * randn(gen, p.shape))
        elif name in ("visual.proj", "text_projection"):        # [in, out], used as x @ W
            p.copy_(p.shape[0] ** -0.5 * randn(gen, p.shape))
        elif name.endswith("bias"):                             # in_proj_bias, *.bias
            p.copy_(0.05 * randn(gen, p.shape))
        elif p.ndim == 2:                                       # [out, in]
            p.copy_(p.shape[1] ** -0.5 * randn(gen, p.shape))
        else:
            raise ValueError(f"unhandled parameter {name} {tuple(p.shape)}")


def hf_config(hidden_act):
    return CLIPConfig(
        text_config=dict(
            vocab_size=49408, hidden_size=16, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=77, hidden_act=hidden_act,
            layer_norm_eps=1e-5, projection_dim=EMBED, bos_token_id=SOT, eos_token_id=EOT,
            pad_token_id=1,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
            num_channels=3, image_size=224, patch_size=32, hidden_act=hidden_act,
            layer_norm_eps=1e-5, projection_dim=EMBED,
        ),
        projection_dim=EMBED,
        logit_scale_init_value=2.6592,
    )


PREPROCESSOR_CONFIG = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": list(OPENAI_MEAN),
    "image_processor_type": "CLIPImageProcessor",
    "image_std": list(OPENAI_STD),
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 224},
}


def patch_config_dtype(dirpath, dtype_name):
    """transformers v5 writes "dtype"; older readers look for "torch_dtype".
    Write both so either kind of loader sees the on-disk dtype."""
    cfg_path = dirpath / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["torch_dtype"] = dtype_name
    if "dtype" in cfg:
        cfg["dtype"] = dtype_name
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def make_hf_model(dirpath, seed, hidden_act, half, add_position_ids, vocab_json, merges_txt):
    torch.manual_seed(seed)
    model = CLIPModel(hf_config(hidden_act)).eval()
    randomize_hf(model, seed)
    if half:
        model = model.half()
    model.save_pretrained(dirpath, safe_serialization=True)
    st_path = dirpath / "model.safetensors"
    tensors = load_file(st_path)
    written_position_ids = sorted(k for k in tensors if k.endswith("position_ids"))
    if add_position_ids:
        # Legacy extras of old OpenAI HF checkpoints (int64, [1,77] and [1,grid^2+1]).
        # transformers v5 keeps position_ids as non-persistent buffers and
        # does not save them, so add them by hand.
        tensors["text_model.embeddings.position_ids"] = torch.arange(77, dtype=torch.int64)[None]
        tensors["vision_model.embeddings.position_ids"] = torch.arange(50, dtype=torch.int64)[None]
        save_file(tensors, str(st_path), metadata={"format": "pt"})
    patch_config_dtype(dirpath, "float16" if half else "float32")
    (dirpath / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR_CONFIG, indent=2) + "\n")
    write_tokenizer_files(dirpath, vocab_json, merges_txt)
    return written_position_ids


OPENCLIP_CFG = {
    "embed_dim": EMBED,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 32, "patch_size": 32, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 2},
}


def make_openclip_model(dirpath, seed, vocab_json, merges_txt):
    torch.manual_seed(seed)
    model = open_clip.CLIP(**OPENCLIP_CFG).eval()
    randomize_openclip(model, seed)
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(dirpath / "open_clip_model.safetensors"), metadata={"format": "pt"})
    write_json(dirpath / "open_clip_config.json", {
        "model_cfg": OPENCLIP_CFG,
        "preprocess_cfg": {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD),
                           "interpolation": "bicubic", "resize_mode": "shortest", "size": 224},
    })
    write_tokenizer_files(dirpath, vocab_json, merges_txt)
    return model, sorted(sd)


def openclip_to_hf_state_dict(sd, width_v, width_t, layers_v, layers_t):
    """ENGINE.md section 2 "Mapping HF <- OpenAI": split in_proj into q/k/v,
    rename, and transpose the two projections."""
    hf = {"logit_scale": sd["logit_scale"]}

    def block(src, dst, w):
        ipw, ipb = sd[src + "attn.in_proj_weight"], sd[src + "attn.in_proj_bias"]
        for j, n in enumerate("qkv"):
            hf[dst + f"self_attn.{n}_proj.weight"] = ipw[j * w:(j + 1) * w]
            hf[dst + f"self_attn.{n}_proj.bias"] = ipb[j * w:(j + 1) * w]
        for a, b in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"),
                     ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
            for suf in ("weight", "bias"):
                hf[f"{dst}{b}.{suf}"] = sd[f"{src}{a}.{suf}"]

    for i in range(layers_t):
        block(f"transformer.resblocks.{i}.", f"text_model.encoder.layers.{i}.", width_t)
    for i in range(layers_v):
        block(f"visual.transformer.resblocks.{i}.", f"vision_model.encoder.layers.{i}.", width_v)
    hf["text_model.embeddings.token_embedding.weight"] = sd["token_embedding.weight"]
    hf["text_model.embeddings.position_embedding.weight"] = sd["positional_embedding"]
    for suf in ("weight", "bias"):
        hf[f"text_model.final_layer_norm.{suf}"] = sd[f"ln_final.{suf}"]
        hf[f"vision_model.pre_layrnorm.{suf}"] = sd[f"visual.ln_pre.{suf}"]
        hf[f"vision_model.post_layernorm.{suf}"] = sd[f"visual.ln_post.{suf}"]
    hf["text_projection.weight"] = sd["text_projection"].T.contiguous()
    hf["vision_model.embeddings.class_embedding"] = sd["visual.class_embedding"]
    hf["vision_model.embeddings.patch_embedding.weight"] = sd["visual.conv1.weight"]
    hf["vision_model.embeddings.position_embedding.weight"] = sd["visual.positional_embedding"]
    hf["visual_projection.weight"] = sd["visual.proj"].T.contiguous()
    return hf


def load_openclip_from_disk(dirpath):
    cfg = json.loads((dirpath / "open_clip_config.json").read_text())["model_cfg"]
    model = open_clip.CLIP(**cfg).eval()
    model.load_state_dict(load_file(dirpath / "open_clip_model.safetensors"), strict=True)
    return model


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------

def synth_planes(w, h, seed, channels, noise=0.03):
    """Gradients + sinusoids + rings + seeded noise + a sharp 0/255 checker
    patch (bicubic overshoot must clip).  Values in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = x / max(w - 1, 1), y / max(h - 1, 1)
    planes = []
    for _ in range(channels):
        a = rng.uniform(0, 2 * np.pi)
        f1, f2, fr = rng.uniform(1.5, 7.0, 3)
        p1, p2 = rng.uniform(0, 2 * np.pi, 2)
        cx, cy = rng.uniform(0.2, 0.8, 2)
        val = (0.5 + 0.30 * ((u - 0.5) * np.cos(a) + (v - 0.5) * np.sin(a))
               + 0.20 * np.sin(2 * np.pi * f1 * u + p1) * np.cos(2 * np.pi * f2 * v + p2)
               + 0.10 * np.sin(2 * np.pi * fr * np.hypot(u - cx, v - cy) * 3.0)
               + rng.normal(0.0, noise, (h, w)))
        planes.append(val)
    img = np.stack(planes, axis=-1)
    # checker patch with hard edges, 8x8 px cells, top-left quadrant
    cw, ch = max(w // 5, 8), max(h // 5, 8)
    x0, y0 = w // 8, h // 8
    cell = ((np.arange(ch)[:, None] // 4 + np.arange(cw)[None, :] // 4) % 2).astype(np.float64)
    img[y0:y0 + ch, x0:x0 + cw, :] = cell[..., None]
    return np.clip(img, 0.0, 1.0)


def to_u8(a):
    return np.round(a * 255.0).astype(np.uint8)


def pil(arr, mode):
    """Pillow image of an explicit mode from a C-order array (Pillow 13's
    fromarray no longer takes a mode, and would call 4 channels RGBA)."""
    arr = np.ascontiguousarray(arr)
    return Image.frombytes(mode, (arr.shape[1], arr.shape[0]), arr.tobytes())


def png_rgb16_bytes(arr16):
    """Minimal PNG writer for 16-bit RGB (colour type 2, bit depth 16):
    Pillow cannot write 48-bit PNG.  Filter type 1 (Sub, bpp 6) on every row."""
    h, w, _ = arr16.shape
    rows = []
    for r in range(h):
        b = np.frombuffer(arr16[r].astype(">u2").tobytes(), dtype=np.uint8).astype(np.int16)
        f = b.copy()
        f[6:] = (b[6:] - b[:-6]) & 0xFF
        rows.append(b"\x01" + f.astype(np.uint8).tobytes())
    raw = b"".join(rows)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def make_images(imgdir):
    """Returns [(filename, note)].  Sizes are chosen so that resizing goes both
    ways, and the centre crop hits the rounding cases:
    300x199 -> 337x224, (337-224)/2 = 56.5: round-half-even 56 (half-up would be 57)
    224x231 -> no resize, (231-224)/2 = 3.5: round-half-even 4, HF's floor 3."""
    made = []

    def save(name, img, note, **kw):
        img.save(imgdir / name, **kw)
        made.append((name, note))

    # 1. baseline JPEG, 4:2:0, larger than 224 both ways
    save("jpeg_baseline_320x240.jpg", pil(to_u8(synth_planes(320, 240, 11, 3, 0.02)), "RGB"),
         "baseline JPEG, RGB (YCbCr 4:2:0), q85", format="JPEG", quality=85)
    # 2. progressive JPEG, 4:4:4, portrait, EXIF orientation 6 (must be IGNORED:
    #    the CLIP pipeline never applies EXIF rotation)
    exif = Image.Exif()
    exif[0x0112] = 6
    save("jpeg_progressive_exif6_229x256.jpg",
         pil(to_u8(synth_planes(229, 256, 12, 3)), "RGB"),
         "progressive JPEG, RGB 4:4:4, q90, EXIF Orientation=6 (not applied)",
         format="JPEG", quality=90, progressive=True, subsampling=0, exif=exif)
    # 3. exact 224x224 baseline JPEG (no resize, no crop)
    save("jpeg_baseline_224x224.jpg", pil(to_u8(synth_planes(224, 224, 13, 3)), "RGB"),
         "baseline JPEG, RGB 4:2:0, q92, exactly 224x224", format="JPEG", quality=92)
    # 4. grayscale JPEG, crop rounding case 56.5
    save("jpeg_gray_300x199.jpg", pil(to_u8(synth_planes(300, 199, 14, 1)[..., 0]), "L"),
         "grayscale JPEG (mode L), q90; resized 337x224, crop left 56 (half-even)",
         format="JPEG", quality=90)
    # 5. CMYK JPEG (Adobe APP14; Pillow inverts on read) -- small upsample
    save("jpeg_cmyk_160x120.jpg", pil(to_u8(synth_planes(160, 120, 15, 4)), "CMYK"),
         "CMYK JPEG (Adobe APP14, stored inverted; Pillow un-inverts on read); Pillow CMYK->RGB: "
         "nk=255-K, R=nk-MULDIV255(C,nk), MULDIV255(a,b)=(t=a*b+128, ((t>>8)+t)>>8)",
         format="JPEG", quality=90)
    # 6. PNG RGB, upsampled
    save("png_rgb_120x90.png", pil(to_u8(synth_planes(120, 90, 16, 3, 0.01)), "RGB"),
         "PNG RGB 8-bit", format="PNG", optimize=False, compress_level=9)
    # 7. PNG RGBA with varying alpha, incl. alpha 0: Pillow resizes RGBA
    #    premultiplied, then convert("RGB") just drops alpha (no compositing)
    rgba = synth_planes(160, 120, 17, 4, 0.01)
    yy, xx = np.mgrid[0:120, 0:160]
    rgba[..., 3] = np.clip(yy / 119.0 * 1.2 - 0.1, 0, 1) * (0.6 + 0.4 * np.cos(xx / 9.0))
    save("png_rgba_160x120.png", pil(to_u8(rgba), "RGBA"),
         "PNG RGBA 8-bit, alpha 0..255 incl. fully transparent top rows", format="PNG", compress_level=9)
    # 8. PNG gray L, no resize (short side already 224), crop 37.5 case
    save("png_gray_224x231.png", pil(to_u8(synth_planes(224, 231, 18, 1, 0.01)[..., 0]), "L"),
         "PNG L 8-bit; no resize, crop top round(3.5)=4 (HF floors to 3)", format="PNG",
         compress_level=9)
    # 9. PNG palette: Pillow resizes mode P with NEAREST whatever filter is asked
    pal_src = pil(to_u8(synth_planes(120, 160, 19, 3, 0.0)), "RGB")
    save("png_palette_120x160.png", pal_src.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE),
         "PNG P (64-colour palette); Pillow resizes P with NEAREST", format="PNG", compress_level=9)
    # 10. PNG 16-bit gray (Pillow mode I;16): values 0..511; resize works in
    #     I;16, then convert("RGB") CLIPS to 255 (no scaling)
    g = synth_planes(150, 100, 20, 1)[..., 0]
    save("png_gray16_150x100.png", pil(np.round(g * 511).astype("<u2"), "I;16"),
         "PNG 16-bit gray (I;16), values 0..511; Pillow convert('RGB') clips >255 to 255",
         format="PNG", compress_level=9)
    # 11. PNG 16-bit RGB, written by hand
    # 12-bit precision (low nibble 0) keeps the file small; the low byte still
    # spans 0x00..0xF0, so rounding 16->8 (libpng scale_16) differs from
    # taking the high byte (Pillow, libpng strip_16).
    c16 = (np.round(synth_planes(96, 128, 21, 3, 0.0) * 4095).astype(np.uint16) << 4)
    (imgdir / "png_rgb16_96x128.png").write_bytes(png_rgb16_bytes(c16))
    assert np.array_equal(np.asarray(Image.open(imgdir / "png_rgb16_96x128.png")), (c16 >> 8).astype(np.uint8))
    made.append(("png_rgb16_96x128.png",
                 "PNG 16-bit RGB (written by a minimal writer; Pillow opens it as 8-bit RGB, high byte)"))
    return made


def openai_preprocess_u8():
    """torchvision Resize(224, BICUBIC) -> CenterCrop(224) -> convert("RGB"),
    applied to the PIL image as opened: openai/CLIP _transform minus ToTensor
    and Normalize."""
    return T.Compose([
        T.Resize(224, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(224),
        lambda im: im.convert("RGB"),
    ])


def build_image_fixtures(imgdir):
    made = make_images(imgdir)
    pre = openai_preprocess_u8()
    oc_pre = open_clip.image_transform(224, is_train=False, mean=OPENAI_MEAN, std=OPENAI_STD)
    mean = np.array(OPENAI_MEAN, dtype=np.float32)
    std = np.array(OPENAI_STD, dtype=np.float32)
    records, stacked = [], []
    for i, (name, note) in enumerate(made):
        path = imgdir / name
        im = Image.open(path)
        mode, size, fmt = im.mode, im.size, im.format
        rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
        # Document the exact Pillow conversions the Swift decoder must match.
        if mode == "CMYK":
            c = np.asarray(im).astype(np.int64)
            nk = 255 - c[..., 3:4]
            t = c[..., :3] * nk + 128
            assert np.array_equal(np.clip(nk - (((t >> 8) + t) >> 8), 0, 255), rgb)
        if mode == "I;16":
            g16 = np.asarray(im).astype(np.int64)
            assert np.array_equal(np.minimum(g16, 255)[..., None].repeat(3, -1), rgb)
        stem = name.rsplit(".", 1)[0]
        np.save(imgdir / f"{stem}.rgb.npy", np.ascontiguousarray(rgb))
        px = np.asarray(pre(Image.open(path)), dtype=np.uint8)
        assert px.shape == (224, 224, 3)
        stacked.append(px)
        # open_clip's own eval transform must equal (u8/255 - mean)/std
        t = oc_pre(Image.open(path)).numpy().transpose(1, 2, 0)
        ref = (px.astype(np.float32) / 255.0 - mean) / std
        assert np.abs(t - ref).max() < 1e-5, (name, np.abs(t - ref).max())
        # resized size the reference used (torchvision rule: int() truncation)
        w, h = size
        if w <= h:
            rw, rh = 224, int(224 * h / w)
        else:
            rw, rh = int(224 * w / h), 224
        records.append({
            "name": name, "format": fmt, "pil_mode": mode, "width": w, "height": h,
            "bytes": path.stat().st_size, "note": note,
            "rgb": f"{stem}.rgb.npy",
            "pixels_index": i,
            "resized_width": rw, "resized_height": rh,
            "crop_left": int(round((rw - 224) / 2.0)), "crop_top": int(round((rh - 224) / 2.0)),
        })
    pixels_u8 = np.stack(stacked)
    np.save(imgdir / "pixels_u8.npy", pixels_u8)
    write_json(imgdir / "reference.json", {
        "pipeline": "PIL Image.open(file) as is -> torchvision Resize(224, BICUBIC) -> "
                    "CenterCrop(224) -> convert('RGB'); float pixels = (u8/255 - mean)/std, NCHW",
        "mean": list(OPENAI_MEAN), "std": list(OPENAI_STD),
        "pixels_u8": "pixels_u8.npy",
        "pixels_u8_shape": list(pixels_u8.shape),
        "rgb_note": "NAME.rgb.npy = np.asarray(Image.open(file).convert('RGB')), HxWx3 uint8, "
                    "no EXIF transpose",
        "images": records,
    })
    return records, pixels_u8


def float_pixels(pixels_u8):
    mean = np.array(OPENAI_MEAN, dtype=np.float32)
    std = np.array(OPENAI_STD, dtype=np.float32)
    x = (pixels_u8.astype(np.float32) / 255.0 - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


# ---------------------------------------------------------------------------
# Texts encoded by each model
# ---------------------------------------------------------------------------

FEATURE_TEXTS = [
    "a photo of a dog.",
    "a photo of a cat.",
    "X X X X cat.",
    "hello world",
    "",
    "a photo of a banded texture.",
    "A  Photo\tof   THE Eiffel-Tower",
    "&amp; rock &amp;amp; roll",
    "hello!!! 2024 caf\u00e9",
    "You should've done this",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family \U0001f44d\U0001f3fd",
    "hello <end_of_text> world",       # open_clip: a literal EOT in the middle; pooled at the FIRST EOT
    "a photo of a 2012 Tesla Model S Sedan.",
    "\uff26\uff55\uff4c\uff4c\uff0d\uff57\uff49\uff44\uff54\uff48 \uff21\uff22\uff23\uff11\uff12\uff13",
    "a photo of a person doing Apply Eye Makeup.",
    "\u0441\u0444\u043e\u0442\u043e\u0433\u0440\u0430\u0444\u0438\u0440\u043e\u0432\u0430\u043d\u043d\u044b\u0439 \u043a\u043e\u0442",
    "3.14159 + 2.71828 = 5.85987",
    "a photo of a hard-leaved pocket orchid, a type of flower.",
    long_text(500),                    # truncated to 77 ids, EOT at index 76
]


def write_features(dirpath, img_feats, txt_feats, logit_scale, ids_list):
    img_feats = img_feats.detach().float().numpy().astype(np.float32)
    txt_feats = txt_feats.detach().float().numpy().astype(np.float32)
    np.save(dirpath / "image_features.npy", np.ascontiguousarray(img_feats))
    np.save(dirpath / "text_features.npy", np.ascontiguousarray(txt_feats))
    i = img_feats / np.linalg.norm(img_feats, axis=1, keepdims=True)
    t = txt_feats / np.linalg.norm(txt_feats, axis=1, keepdims=True)
    logits = (math.exp(logit_scale) * (i @ t.T)).astype(np.float32)
    np.save(dirpath / "logits_per_image.npy", np.ascontiguousarray(logits))
    write_json(dirpath / "texts.json", FEATURE_TEXTS)
    write_json(dirpath / "text_ids.json", ids_list, compact=False)
    write_json(dirpath / "logit_scale.json", {"logit_scale": logit_scale,
                                              "exp_logit_scale": math.exp(logit_scale)})


@torch.no_grad()
def hf_features(model, pixels, ids_list):
    out = model.get_image_features(pixel_values=pixels)
    img = out if isinstance(out, torch.Tensor) else out.pooler_output
    txt = []
    for ids in ids_list:                       # one at a time, unpadded
        o = model.get_text_features(input_ids=torch.tensor([ids], dtype=torch.long))
        txt.append(o if isinstance(o, torch.Tensor) else o.pooler_output)
    return img, torch.cat(txt, 0)


@torch.no_grad()
def openclip_features(model, pixels):
    img = model.encode_image(pixels, normalize=False)
    txt = model.encode_text(open_clip.tokenize(FEATURE_TEXTS), normalize=False)  # padded to 77
    return img, txt


FIXTURES_README = """\
# Test fixtures (generated)

Written by `Scripts/make_fixtures.py` from the reference implementations
(transformers, open_clip_torch, torchvision, Pillow); versions in
`versions.json`.  Do not edit by hand: change the script and re-run it.
All `.npy` files are numpy format 1.0, little-endian, C order.

## Models (random weights, every tensor perturbed)

| dir | format | act | on-disk dtype | seed |
|---|---|---|---|---|
| `tiny-clip/` | HF `model.safetensors` + `config.json` | quick_gelu | F32 | 0 |
| `tiny-clip-f16-gelu/` | HF, plus legacy I64 `*.embeddings.position_ids` [1,77], [1,50] | gelu (erf) | F16 | 1 |
| `tiny-openclip/` | `open_clip_model.safetensors` (OpenAI key names) + `open_clip_config.json` | quick_gelu | F32 | 2 |

Shapes: text width 16, 2 layers, 2 heads (head dim 8), MLP 64, context 77,
vocab 49408; vision width 32, 2 layers, 2 heads (head dim 16), MLP 128,
image 224, patch 32 (7x7 grid + class token = 50 tokens); embed 16;
LayerNorm eps 1e-5; logit_scale 2.6592 (F16 file: 2.66015625).

Per model dir:
- `image_features.npy` (N,16) f32: projected, NOT normalised, one row per
  image in `images/reference.json` order, computed from
  `(pixels_u8/255 - mean)/std` in NCHW.
- `text_features.npy` (T,16) f32: projected, not normalised, one row per
  entry of `texts.json` (T strings); `text_ids.json` holds their unpadded
  open_clip ids (SOT ... EOT).  HF models: one text at a time, unpadded,
  pooled at the first EOT.  open_clip: padded to 77 with 0, pooled at
  argmax(ids) (= first EOT).  Same numbers either way.
- `logits_per_image.npy` (N,T) f32 = exp(logit_scale) * norm(img) @ norm(txt)^T.
- `logit_scale.json`.
- The F16 model's features are float32 arithmetic on the F16 weights
  (F16 -> F32 on load), not half-precision arithmetic.

## images/

`reference.json` lists each image: name, format, Pillow mode, size,
resized size / crop offsets the reference used, and
- `NAME.rgb.npy`: `np.asarray(Image.open(f).convert("RGB"))`, HxWx3 uint8
  (Pillow's decoders: libjpeg-turbo with its defaults; no EXIF rotation);
- row `pixels_index` of `pixels_u8.npy` (N,224,224,3) uint8: the PIL image
  as opened -> torchvision `Resize(224, BICUBIC)` -> `CenterCrop(224)` ->
  `convert("RGB")` (openai/CLIP `_transform` order, before ToTensor).

Traps covered: Pillow resizes mode P with NEAREST; RGBA is resized
premultiplied, then alpha is dropped without compositing; I;16 is resized in
16-bit, then `convert("RGB")` clips values > 255 to 255; 16-bit RGB PNG is
read as its high byte; CMYK JPEG (Adobe, inverted) uses Pillow's CMYK->RGB;
EXIF orientation is ignored; crop offsets use Python round (half to even).

## tokens.json

One entry per line: `{"text", "sources", "ids"}` (+ `"openai_ids"` where the
original openai/CLIP tokenizer differs from open_clip: only special-token
literals, `<|endoftext|>` vs `<end_of_text>`).  `ids` = open_clip.tokenize
from SOT to EOT inclusive, no padding; texts over 77 tokens are truncated to
77 with EOT last.  `sources`: the 11 CoOp datasets' class names
(`dtd`, ...), the same as "a photo of a {name}." (`dtd_prompt`, ...),
`engine_md_table` (ENGINE.md section 3) and `hard` (unicode, HTML, emoji,
whitespace, truncation).
"""


# ---------------------------------------------------------------------------

def main():
    OUT.mkdir(parents=True, exist_ok=True)
    owned = ["tiny-clip", "tiny-clip-f16-gelu", "tiny-openclip", "images", "tokens.json",
             "versions.json", "README.md"]
    for name in owned:
        p = OUT / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    quirks = []

    vocab_json, merges_txt = build_tokenizer_files()

    # --- tokens -------------------------------------------------------------
    classnames = coop_classnames()
    tokens = build_tokens_json(classnames)
    # one entry per line: compact, and diffs stay readable
    with open(OUT / "tokens.json", "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"))
                                     for e in tokens) + "\n]\n")
    n_openai_diff = sum(1 for e in tokens if "openai_ids" in e)
    quirks.append(f"tokens.json: {len(tokens)} texts, {n_openai_diff} where the original OpenAI tokenizer differs")

    # HF CLIPTokenizer built from our vocab.json/merges.txt must agree with
    # open_clip wherever the OpenAI-style cleaning (ftfy, html, whitespace)
    # is a no-op: this checks the files, not HF's (different) normalisation.
    tmp_tok_dir = OUT / "tiny-clip"
    tmp_tok_dir.mkdir()
    write_tokenizer_files(tmp_tok_dir, vocab_json, merges_txt)
    # NB: in transformers v5, CLIPTokenizer(vocab_file=..., merges_file=...)
    # silently ignores those keywords and builds a 3-token vocabulary;
    # from_pretrained on the directory reads vocab.json + merges.txt.
    hf_tok = CLIPTokenizer.from_pretrained(str(tmp_tok_dir))
    assert len(hf_tok) == 49408, len(hf_tok)
    checked = mism = 0
    for e in tokens:
        t = e["text"]
        if "hard" in e["sources"] or not t.isascii() or "&" in t or len(e["ids"]) >= CONTEXT:
            continue
        checked += 1
        if hf_tok(t)["input_ids"] != e["ids"]:
            mism += 1
            print("HF tokenizer differs:", repr(t), hf_tok(t)["input_ids"], e["ids"])
    assert mism == 0
    quirks.append(f"HF CLIPTokenizer on vocab.json/merges.txt == open_clip ids for {checked} ASCII texts")
    shutil.rmtree(tmp_tok_dir)

    # --- images -------------------------------------------------------------
    imgdir = OUT / "images"
    imgdir.mkdir()
    records, pixels_u8 = build_image_fixtures(imgdir)
    pixels = float_pixels(pixels_u8)

    ids_list = [openclip_ids(t) for t in FEATURE_TEXTS]

    # --- (a) tiny-clip: float32, quick_gelu, seed 0 ---------------------------
    d = OUT / "tiny-clip"
    d.mkdir()
    pos_a = make_hf_model(d, 0, "quick_gelu", False, False, vocab_json, merges_txt)
    quirks.append(f"save_pretrained wrote position_ids tensors: {pos_a or 'none'}")
    m = CLIPModel.from_pretrained(d, attn_implementation="eager").eval()
    img, txt = hf_features(m, pixels, ids_list)
    # padded batch with attention only through the causal mask gives the same
    # text features (pooling at the first EOT)
    padded = torch.tensor([ids + [EOT] * (CONTEXT - len(ids)) for ids in ids_list])
    with torch.no_grad():
        o = m.get_text_features(input_ids=padded)
    o = o if isinstance(o, torch.Tensor) else o.pooler_output
    assert torch.allclose(o, txt, atol=1e-5), (o - txt).abs().max()
    write_features(d, img, txt, m.logit_scale.item(), ids_list)

    # --- (b) tiny-clip-f16-gelu: float16 on disk, gelu, seed 1, position_ids --
    d = OUT / "tiny-clip-f16-gelu"
    d.mkdir()
    make_hf_model(d, 1, "gelu", True, True, vocab_json, merges_txt)
    # Reference = float32 arithmetic on the float16 weights (what an engine
    # that converts F16 -> F32 on load computes).
    m16 = CLIPModel.from_pretrained(d, attn_implementation="eager", dtype=torch.float32).eval()
    assert m16.text_model.embeddings.token_embedding.weight.dtype == torch.float32
    img, txt = hf_features(m16, pixels, ids_list)
    write_features(d, img, txt, m16.logit_scale.item(), ids_list)

    # --- (c) tiny-openclip: seed 2 --------------------------------------------
    d = OUT / "tiny-openclip"
    d.mkdir()
    mem_model, oc_keys = make_openclip_model(d, 2, vocab_json, merges_txt)
    oc = load_openclip_from_disk(d)
    img, txt = openclip_features(oc, pixels)
    img2, txt2 = openclip_features(mem_model, pixels)
    assert torch.equal(img, img2) and torch.equal(txt, txt2)
    write_features(d, img, txt, oc.logit_scale.item(), ids_list)
    # The same weights mapped to the HF layout must give the same features
    # through transformers' CLIPModel: validates the name map the Swift
    # loader uses, and that open_clip (padded, argmax pooling) and HF
    # (unpadded, first-EOT pooling) agree.
    hf_sd = openclip_to_hf_state_dict(load_file(d / "open_clip_model.safetensors"), 32, 16, 2, 2)
    hf_m = CLIPModel(hf_config("quick_gelu")).eval()
    hf_m.load_state_dict(hf_sd, strict=True)
    img_h, txt_h = hf_features(hf_m, pixels, ids_list)
    err = max((img_h - img).abs().max().item(), (txt_h - txt).abs().max().item())
    assert err < 1e-5, err
    quirks.append(f"tiny-openclip weights mapped to HF names: max |HF - open_clip| = {err:.2e}")

    versions = {
        "python": sys.version.split()[0],
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "transformers": transformers.__version__, "open_clip_torch": open_clip.__version__,
        "Pillow": PIL.__version__, "libjpeg-turbo (Pillow)": pil_features.version("libjpeg_turbo"),
        "libjpeg API (Pillow)": pil_features.version("jpg"),
        "zlib (Pillow)": pil_features.version("zlib"),
        "numpy": np.__version__, "safetensors": safetensors.__version__, "ftfy": ftfy.__version__,
        "clip-benchmark": "1.6.2 (data only)", "tensorflow-datasets": "4.9.10 (data only)",
        "clip-anytorch": "2.6.0 (simple_tokenizer.py only)",
    }
    write_json(OUT / "versions.json", versions)
    (OUT / "README.md").write_text(FIXTURES_README, encoding="utf-8")

    # --- summary --------------------------------------------------------------
    print("\n== versions ==")
    for k, v in versions.items():
        print(f"  {k}: {v}")
    print("\n== notes ==")
    for q in quirks:
        print("  " + q)
    print("\n== files ==")
    total = 0
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"  {p.stat().st_size:>10}  {p.relative_to(OUT)}")
    print(f"  {total:>10}  TOTAL ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
