#!/usr/bin/env python3
"""Generate the CoOp reference fixtures in Tests/Fixtures/coop/ with PyTorch
autograd, following the structure of CoOp's trainers/coop.py
(KaiyangZhou/CoOp: PromptLearner, TextEncoder, CustomCLIP) and Dassl's SGD +
constant-warm-up + cosine schedule.

This script is run by hand, never in CI.  The Swift tests only read what it
wrote; the fixtures are committed.  Re-running it with the same package
versions reproduces every file byte for byte (fixed seeds, one thread,
deterministic algorithms).  Do not edit the fixtures by hand.

Setup: the same reference venv as Scripts/make_fixtures.py (see the setup
lines at the top of that file; only torch, transformers, open_clip_torch and
numpy are used here).  Run (from anywhere), AFTER make_fixtures.py has
written Tests/Fixtures/tiny-clip (this script only reads it):

    /work/refenv/bin/python Scripts/make_coop_fixtures.py

What it writes (all .npy files: numpy format v1.0, float32, little-endian,
C order); see coop/README.md, written by this script, for the details:

  coop/classnames.txt    the 5 class names, one per line (as given, "_" kept)
  coop/features.npy      (12,16) image features (random normal, not normalised)
  coop/labels.txt        12 labels, one int per line
  coop/README.md
  coop/<case>/           one CoOp training run each (generic_init,
                         csc_middle_random, generic_front_random):
      meta.json, ctx_init.npy, ctx_final.npy, losses.json, grad_init.npy,
      text_features_init.npy, text_features_final.npy
  coop/zeroshot/         zero-shot CLIP (plain HF get_text_features):
      meta.json, probabilities.npy, predictions.txt,
      probabilities_ensemble.npy, predictions_ensemble.txt
"""

import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import CLIPModel
import open_clip

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "Tests" / "Fixtures"
MODEL_DIR = FIXTURES / "tiny-clip"
OUT = FIXTURES / "coop"

SOT, EOT = 49406, 49407
CONTEXT = 77

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

CLASSNAMES = ["banded", "honeycombed", "polka_dotted", "Annual Crop Land", "zigzagged"]
N_FEATURES = 12
FEATURE_SEED = 1234
# every class present; fixed, not shuffled
LABELS = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 2, 0]

MOMENTUM = 0.9
WARMUP_EPOCHS = 1
WARMUP_LR = 1e-5            # Dassl "constant" warm-up: OPTIM.WARMUP_CONS_LR
INIT_STD = 0.02

# base_lr: NOT CoOp's 0.002.  In this tiny random model the token embeddings
# are small (|ctx| ~ 0.17 for "a photo of a", ~0.1 for N(0, 0.02) context)
# and LayerNorm makes the gradient large relative to them, so 0.002 moves the
# context by 2-4x its norm and the loss stops being monotone.  Each case uses
# a smaller lr that moves the context by ~35% of its norm with a smoothly
# falling loss (well-conditioned for comparing another implementation; the
# script asserts >= 5% movement and a clear decrease).  Even the warm-up lr
# 1e-5 of epoch 0 visibly lowers the loss.
CASES = [
    dict(name="generic_init", n_ctx=4, ctx_init="a photo of a", csc=False,
         class_position="end", weight_decay=0.005, epochs=12, base_lr=1e-4, seed=None),
    dict(name="csc_middle_random", n_ctx=2, ctx_init=None, csc=True,
         class_position="middle", weight_decay=0.005, epochs=12, base_lr=2e-4, seed=7),
    dict(name="generic_front_random", n_ctx=3, ctx_init=None, csc=False,
         class_position="front", weight_decay=0.005, epochs=8, base_lr=2e-4, seed=11),
]

ZS_TEMPLATE = "a photo of a {}."
ZS_ENSEMBLE = ["a photo of a {}.", "a {} texture.", "itap of a {}."]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def to_json(obj, indent=0):
    """Indented JSON with lists of scalars on one line (readable diffs)."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent + 1)}"
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (list, dict)) for v in obj):
        return "[\n" + ",\n".join(inner + to_json(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_json(obj) + "\n")


def save_npy(path, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    np.save(path, np.ascontiguousarray(a.astype(np.float32)))


def tokenize(text):
    """open_clip.tokenize(text) -> (77,) int64, zero padded."""
    return open_clip.tokenize([text])[0]


def unpadded(ids_row):
    ids = ids_row.tolist()
    return ids[:ids.index(EOT) + 1]


def pooled(out):
    """transformers v5 get_text_features returns BaseModelOutputWithPooling."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def lr_at(epoch, base_lr, epochs):
    """Dassl: ConstantWarmupScheduler(cons_lr) around CosineAnnealingLR(T_max=E)."""
    if epoch < WARMUP_EPOCHS:
        return WARMUP_LR
    return 0.5 * base_lr * (1 + math.cos(math.pi * (epoch - WARMUP_EPOCHS) / epochs))


# ---------------------------------------------------------------------------
# CoOp TextEncoder on the HF text tower: takes prompt EMBEDDINGS
# ---------------------------------------------------------------------------

def causal_mask(L, dtype):
    """CLIP build_attention_mask: -inf strictly above the diagonal, 0 elsewhere."""
    return torch.full((L, L), float("-inf"), dtype=dtype).triu_(1)


class TextEncoder(torch.nn.Module):
    """x = prompts + position_embedding[:L]; the HF encoder layers, written
    out with the layer modules' weights (LN1 -> attention -> residual, LN2 ->
    fc1 -> quick_gelu -> fc2 -> residual); final_layer_norm; the row at the
    EOT position; text_projection (Linear, no bias)."""

    def __init__(self, clip):
        super().__init__()
        tm = clip.text_model
        self.pos = tm.embeddings.position_embedding.weight
        self.layers = tm.encoder.layers
        self.ln_final = tm.final_layer_norm
        self.proj = clip.text_projection
        self.heads = tm.config.num_attention_heads
        assert tm.config.hidden_act == "quick_gelu"

    def block(self, layer, x, mask):
        n, L, c = x.shape
        h, d = self.heads, c // self.heads
        a = layer.self_attn
        y = layer.layer_norm1(x)
        q = a.q_proj(y).view(n, L, h, d).transpose(1, 2)
        k = a.k_proj(y).view(n, L, h, d).transpose(1, 2)
        v = a.v_proj(y).view(n, L, h, d).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) * (d ** -0.5) + mask
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(n, L, c)
        x = x + a.out_proj(o)
        y = layer.layer_norm2(x)
        u = layer.mlp.fc1(y)
        u = u * torch.sigmoid(1.702 * u)                    # QuickGELU
        return x + layer.mlp.fc2(u)

    def forward(self, prompts, eot_pos, use_hf_layers=False):
        n, L, c = prompts.shape
        x = prompts + self.pos[:L]
        mask = causal_mask(L, x.dtype)
        for layer in self.layers:
            if use_hf_layers:   # the HF modules' own forward (eager attention), for cross-checking
                x = layer(x, mask[None, None])
            else:
                x = self.block(layer, x, mask)
        x = self.ln_final(x)
        return self.proj(x[torch.arange(n), eot_pos])


# ---------------------------------------------------------------------------
# CoOp PromptLearner (trainers/coop.py), sequences truncated at the longest EOT
# ---------------------------------------------------------------------------

class PromptLearner(torch.nn.Module):
    def __init__(self, clip, classnames, n_ctx, ctx_init, csc, class_position, seed):
        super().__init__()
        emb = clip.text_model.embeddings.token_embedding
        width = emb.weight.shape[1]
        n_cls = len(classnames)
        with torch.no_grad():
            if ctx_init:
                ctx_init = ctx_init.replace("_", " ")
                assert len(ctx_init.split(" ")) == n_ctx
                ids = tokenize(ctx_init)
                ctx_vectors = emb(ids)[1:1 + n_ctx].clone()
                if csc:   # (not used by the cases here) every class starts from the phrase
                    ctx_vectors = ctx_vectors.unsqueeze(0).repeat(n_cls, 1, 1)
                prompt_prefix = ctx_init
            else:
                g = torch.Generator().manual_seed(seed)
                shape = (n_cls, n_ctx, width) if csc else (n_ctx, width)
                ctx_vectors = torch.normal(0.0, INIT_STD, shape, generator=g)
                prompt_prefix = " ".join(["X"] * n_ctx)
        self.ctx = torch.nn.Parameter(ctx_vectors.float())

        names = [name.replace("_", " ") for name in classnames]
        name_lens = [len(unpadded(tokenize(name))) - 2 for name in names]
        prompts = [prompt_prefix + " " + name + "." for name in names]
        full = torch.stack([tokenize(p) for p in prompts])                  # (n_cls, 77)
        eot_pos = full.argmax(dim=-1)                                       # first EOT = argmax
        L = int(eot_pos.max()) + 1
        with torch.no_grad():
            embedding = emb(full)                                           # (n_cls, 77, w)
        # CoOp keeps all 77 rows; only the first L matter under the causal mask
        self.register_buffer("token_prefix", embedding[:, :1].clone())      # SOT
        self.register_buffer("token_suffix", embedding[:, 1 + n_ctx:L].clone())
        self.register_buffer("token_suffix_77", embedding[:, 1 + n_ctx:].clone())

        self.n_cls, self.n_ctx, self.csc = n_cls, n_ctx, csc
        self.class_position = class_position
        self.name_lens, self.prompts, self.full_ids = name_lens, prompts, full
        self.eot_pos, self.L = eot_pos, L

        # The same layout as ids: token id >= 0, or context slot k as -1 - k
        # (padding beyond a class's EOT up to L is id 0).
        slots = []
        for i in range(n_cls):
            f = full[i, :L].tolist()
            ctx = [-1 - k for k in range(n_ctx)]
            nl = name_lens[i]
            name_part, rest = f[1 + n_ctx:1 + n_ctx + nl], f[1 + n_ctx + nl:]
            if class_position == "end":
                s = [f[0]] + ctx + f[1 + n_ctx:]
            elif class_position == "middle":
                h = n_ctx // 2
                s = [f[0]] + ctx[:h] + name_part + ctx[h:] + rest
            elif class_position == "front":
                s = [f[0]] + name_part + ctx + rest
            else:
                raise ValueError(class_position)
            assert len(s) == L and s.index(EOT) == int(eot_pos[i])
            slots.append(s)
        self.slots = slots

    def forward(self, full_length=False):
        ctx = self.ctx
        if ctx.dim() == 2:
            ctx = ctx.unsqueeze(0).expand(self.n_cls, -1, -1)
        prefix = self.token_prefix
        suffix = self.token_suffix_77 if full_length else self.token_suffix

        if self.class_position == "end":
            return torch.cat([prefix, ctx, suffix], dim=1)
        half = self.n_ctx // 2
        out = []
        for i in range(self.n_cls):
            nl = self.name_lens[i]
            prefix_i = prefix[i:i + 1]
            class_i = suffix[i:i + 1, :nl]
            suffix_i = suffix[i:i + 1, nl:]
            ctx_i = ctx[i:i + 1]
            if self.class_position == "middle":
                out.append(torch.cat([prefix_i, ctx_i[:, :half], class_i, ctx_i[:, half:], suffix_i], dim=1))
            else:   # front
                out.append(torch.cat([prefix_i, class_i, ctx_i, suffix_i], dim=1))
        return torch.cat(out, dim=0)

    def prompts_from_slots(self, token_embedding):
        """The prompt embeddings rebuilt from `slots` (what the Swift side does)."""
        rows = []
        ctx = self.ctx
        for i, s in enumerate(self.slots):
            r = []
            for v in s:
                if v >= 0:
                    r.append(token_embedding[v])
                else:
                    r.append((ctx[i] if self.csc else ctx)[-1 - v])
            rows.append(torch.stack(r))
        return torch.stack(rows)


def coop_loss(text_encoder, learner, img, labels, logit_scale, full_length=False):
    eot = learner.eot_pos
    text = text_encoder(learner(full_length=full_length), eot)
    i = img / img.norm(dim=-1, keepdim=True)
    t = text / text.norm(dim=-1, keepdim=True)
    logits = logit_scale.exp() * i @ t.t()
    return F.cross_entropy(logits, labels), text


# ---------------------------------------------------------------------------
# verification of the text encoder against HF get_text_features
# ---------------------------------------------------------------------------

@torch.no_grad()
def verify_text_encoder(clip, enc, texts):
    """Plain token embeddings through the CoOp encoder (truncated at the
    longest EOT, shorter rows padded with id 0) vs get_text_features, one
    text at a time unpadded and as a 77-padded batch."""
    emb = clip.text_model.embeddings.token_embedding
    full = torch.stack([tokenize(t) for t in texts])
    eot = full.argmax(-1)
    L = int(eot.max()) + 1
    ours = enc(emb(full[:, :L]), eot)
    ours_hf_layers = enc(emb(full[:, :L]), eot, use_hf_layers=True)
    ours_77 = enc(emb(full), eot)
    ref = torch.cat([pooled(clip.get_text_features(input_ids=torch.tensor([unpadded(r)])))
                     for r in full])
    ref_77 = pooled(clip.get_text_features(input_ids=full))
    diffs = {
        "coop_encoder_vs_get_text_features_unpadded": (ours - ref).abs().max().item(),
        "coop_encoder_vs_get_text_features_padded77": (ours - ref_77).abs().max().item(),
        "coop_encoder_vs_hf_layer_modules": (ours - ours_hf_layers).abs().max().item(),
        "truncated_L_vs_full_77": (ours - ours_77).abs().max().item(),
    }
    for k, v in diffs.items():
        assert v < 2e-6, (texts, k, v)
    return diffs


# ---------------------------------------------------------------------------
# one CoOp training run
# ---------------------------------------------------------------------------

def run_case(clip, enc, img, labels, case, outdir):
    torch.manual_seed(0)
    learner = PromptLearner(clip, CLASSNAMES, case["n_ctx"], case["ctx_init"], case["csc"],
                            case["class_position"], case["seed"])
    emb_w = clip.text_model.embeddings.token_embedding.weight
    ls = clip.logit_scale.detach()
    notes = {}

    with torch.no_grad():
        # CoOp's concatenation == the slot layout; truncation at L is exact
        p = learner()
        assert torch.equal(p, learner.prompts_from_slots(emb_w)), case["name"]
        t_L = enc(p, learner.eot_pos)
        t_77 = enc(learner(full_length=True), learner.eot_pos)
        notes["truncated_L_vs_full_77_max_abs"] = (t_L - t_77).abs().max().item()
        assert notes["truncated_L_vs_full_77_max_abs"] < 2e-6
        if case["ctx_init"] and not case["csc"]:
            # the initial context IS the phrase's embeddings: plain HF prompts
            ref = torch.cat([pooled(clip.get_text_features(input_ids=torch.tensor([unpadded(r)])))
                             for r in learner.full_ids])
            notes["init_text_features_vs_get_text_features_max_abs"] = (t_L - ref).abs().max().item()
            assert notes["init_text_features_vs_get_text_features_max_abs"] < 2e-6

    # gradient at the initial context (no weight decay), checked in float64
    ctx_init = learner.ctx.detach().clone()
    learner.ctx.grad = None
    loss0, text_init = coop_loss(enc, learner, img, labels, ls)
    loss0.backward()
    grad_init = learner.ctx.grad.detach().clone()
    notes["gradcheck_float64"] = gradcheck64(clip, learner, img, labels)

    # training: SGD over the context only, full batch, one step per epoch
    learner.ctx.grad = None
    opt = torch.optim.SGD([learner.ctx], lr=case["base_lr"], momentum=MOMENTUM,
                          weight_decay=case["weight_decay"], dampening=0, nesterov=False)
    losses, lrs = [], []
    for e in range(case["epochs"]):
        lr = lr_at(e, case["base_lr"], case["epochs"])
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss, _ = coop_loss(enc, learner, img, labels, ls)
        loss.backward()
        if e == 0:
            assert torch.equal(learner.ctx.grad, grad_init)
        opt.step()
        losses.append(loss.item())
        lrs.append(lr)
    ctx_final = learner.ctx.detach().clone()
    with torch.no_grad():
        final_loss, text_final = coop_loss(enc, learner, img, labels, ls)

    # independent re-implementation of the update, as the docs state it
    th, v = ctx_init.clone(), None
    for e in range(case["epochs"]):
        learner.ctx.data.copy_(th)
        learner.ctx.grad = None
        loss, _ = coop_loss(enc, learner, img, labels, ls)
        loss.backward()
        g = learner.ctx.grad + case["weight_decay"] * th
        v = g.clone() if v is None else MOMENTUM * v + g
        th = th - lrs[e] * v
    notes["manual_sgd_vs_torch_sgd_max_abs"] = (th - ctx_final).abs().max().item()
    assert notes["manual_sgd_vs_torch_sgd_max_abs"] < 1e-6
    learner.ctx.data.copy_(ctx_final)
    notes["float64_training"] = train64(clip, learner, ctx_init, img, labels, case, lrs, losses, ctx_final)

    rel = ((ctx_final - ctx_init).norm() / ctx_init.norm()).item()
    assert rel >= 0.05, (case["name"], rel)
    assert losses[-1] < losses[0] - 0.05 and final_loss.item() < losses[-1], (case["name"], losses)
    notes.update(relative_context_movement=rel, ctx_init_norm=ctx_init.norm().item(),
                 loss_after_last_step=final_loss.item())

    outdir.mkdir()
    save_npy(outdir / "ctx_init.npy", ctx_init)
    save_npy(outdir / "ctx_final.npy", ctx_final)
    save_npy(outdir / "grad_init.npy", grad_init)
    save_npy(outdir / "text_features_init.npy", text_init)
    save_npy(outdir / "text_features_final.npy", text_final)
    write_json(outdir / "losses.json", losses)
    meta = {
        "case": case["name"],
        "classnames": CLASSNAMES,
        "n_cls": len(CLASSNAMES),
        "n_ctx": case["n_ctx"],
        "ctx_init": case["ctx_init"],
        "init": ("token embeddings of open_clip.tokenize(ctx_init)[1:1+n_ctx]" if case["ctx_init"]
                 else f"torch.normal(0, {INIT_STD}, shape, generator=torch.Generator().manual_seed(seed)); "
                      "not reproducible outside torch: read ctx_init.npy"),
        "init_std": None if case["ctx_init"] else INIT_STD,
        "seed": case["seed"],
        "csc": case["csc"],
        "ctx_shape": list(ctx_init.shape),
        "class_position": case["class_position"],
        "prompt_prefix": case["ctx_init"] or " ".join(["X"] * case["n_ctx"]),
        "prompts": learner.prompts,
        "name_lens": learner.name_lens,
        "full_token_ids": [unpadded(r) for r in learner.full_ids],
        "eot_positions": learner.eot_pos.tolist(),
        "sequence_length": learner.L,
        "slots": learner.slots,
        "slots_note": "per class, per position 0..L-1: token id (>= 0; 0 = padding after EOT) "
                      "or context slot k as -1-k (row k of ctx, or of ctx[class] when csc)",
        "logit_scale": clip.logit_scale.item(),
        "exp_logit_scale": math.exp(clip.logit_scale.item()),
        "optimizer": "torch.optim.SGD over ctx only",
        "base_lr": case["base_lr"],
        "weight_decay": case["weight_decay"],
        "momentum": MOMENTUM,
        "dampening": 0.0,
        "nesterov": False,
        "epochs": case["epochs"],
        "warmup_epochs": WARMUP_EPOCHS,
        "warmup_lr": WARMUP_LR,
        "lr_schedule": "epoch e < 1: warmup_lr; else 0.5*base_lr*(1+cos(pi*(e-1)/epochs)); "
                       "set at the start of epoch e",
        "lr_per_epoch": lrs,
        "batch_size": N_FEATURES,
        "steps_per_epoch": 1,
        "shuffle": False,
        "loss": "mean cross-entropy of exp(logit_scale) * norm(features) @ norm(text_features).T",
        "losses_note": "losses.json[e] = loss at the start of epoch e, before its update",
        "grad_init_note": "d loss / d ctx at ctx_init, without weight decay",
        "checks": notes,
    }
    write_json(outdir / "meta.json", meta)
    return dict(name=case["name"], base_lr=case["base_lr"], losses=losses, rel=rel, notes=notes)


def train64(clip, learner, ctx_init, img, labels, case, lrs, losses32, ctx_final32):
    """The same training in float64: how far float32 rounding moves the
    trajectory (a guide for the tolerances of another implementation)."""
    import copy
    clip64 = copy.deepcopy(clip).double()
    enc64 = TextEncoder(clip64)
    l64 = copy.deepcopy(learner).double()
    with torch.no_grad():
        l64.ctx.copy_(ctx_init.double())
    opt = torch.optim.SGD([l64.ctx], lr=case["base_lr"], momentum=MOMENTUM,
                          weight_decay=case["weight_decay"], dampening=0, nesterov=False)
    losses = []
    for e in range(case["epochs"]):
        for g in opt.param_groups:
            g["lr"] = lrs[e]
        opt.zero_grad(set_to_none=True)
        loss, _ = coop_loss(enc64, l64, img.double(), labels, clip64.logit_scale.detach())
        loss.backward()
        opt.step()
        losses.append(loss.item())
    d = (l64.ctx.detach() - ctx_final32.double()).abs().max().item()
    return {"ctx_final_max_abs_diff_f32_vs_f64": d,
            "ctx_final_max_abs": ctx_final32.abs().max().item(),
            "losses_max_abs_diff_f32_vs_f64": max(abs(a - b) for a, b in zip(losses, losses32))}


def gradcheck64(clip, learner, img, labels):
    """torch.autograd.gradcheck of the loss w.r.t. ctx in float64 (a copy)."""
    import copy
    clip64 = copy.deepcopy(clip).double()
    enc64 = TextEncoder(clip64)
    l64 = copy.deepcopy(learner).double()
    img64, ls64 = img.double(), clip64.logit_scale.detach()

    del l64.ctx                 # the Parameter; ctx is passed in as a plain tensor

    def f(ctx):
        l64.ctx = ctx
        return coop_loss(enc64, l64, img64, labels, ls64)[0]

    ctx = learner.ctx.detach().double().clone().requires_grad_(True)
    ok = torch.autograd.gradcheck(f, (ctx,), eps=1e-6, atol=1e-7, rtol=1e-5)
    assert ok
    # and the float32 gradient agrees with the float64 one
    g64 = torch.autograd.grad(f(ctx), ctx)[0]
    l32 = learner
    l32.ctx.grad = None
    loss32, _ = coop_loss(TextEncoder(clip), l32, img, labels, clip.logit_scale.detach())
    g32 = torch.autograd.grad(loss32, l32.ctx)[0]
    return {"passed": True, "float32_vs_float64_grad_max_abs": (g32.double() - g64).abs().max().item(),
            "grad_max_abs": g64.abs().max().item()}


# ---------------------------------------------------------------------------
# zero-shot
# ---------------------------------------------------------------------------

@torch.no_grad()
def zeroshot(clip, img, outdir):
    names = [n.replace("_", " ") for n in CLASSNAMES]
    i = img / img.norm(dim=-1, keepdim=True)
    scale = clip.logit_scale.exp()

    def text_feats(template):
        texts = [template.format(n) for n in names]
        ids = [unpadded(tokenize(t)) for t in texts]
        f = torch.cat([pooled(clip.get_text_features(input_ids=torch.tensor([x]))) for x in ids])
        return texts, ids, f

    texts, ids, f = text_feats(ZS_TEMPLATE)
    t = f / f.norm(dim=-1, keepdim=True)
    probs = (scale * i @ t.t()).softmax(-1)
    ens, ens_texts, ens_ids = [], [], []
    for tpl in ZS_ENSEMBLE:
        tx, ix, fx = text_feats(tpl)
        ens.append(fx / fx.norm(dim=-1, keepdim=True))
        ens_texts.append(tx)
        ens_ids.append(ix)
    te = torch.stack(ens).mean(0)
    te = te / te.norm(dim=-1, keepdim=True)
    probs_e = (scale * i @ te.t()).softmax(-1)

    outdir.mkdir()
    save_npy(outdir / "probabilities.npy", probs)
    save_npy(outdir / "probabilities_ensemble.npy", probs_e)
    save_npy(outdir / "text_features.npy", f)
    pred, pred_e = probs.argmax(-1).tolist(), probs_e.argmax(-1).tolist()
    (outdir / "predictions.txt").write_text("".join(f"{p}\n" for p in pred))
    (outdir / "predictions_ensemble.txt").write_text("".join(f"{p}\n" for p in pred_e))
    write_json(outdir / "meta.json", {
        "template": ZS_TEMPLATE,
        "texts": texts,
        "token_ids": ids,
        "ensemble_templates": ZS_ENSEMBLE,
        "ensemble_texts": ens_texts,
        "ensemble_token_ids": ens_ids,
        "classnames_used": names,
        "logit_scale": clip.logit_scale.item(),
        "exp_logit_scale": math.exp(clip.logit_scale.item()),
        "probabilities": "softmax(exp(logit_scale) * norm(features) @ norm(text_features).T), (12,5)",
        "ensemble": "per template: normalise the (5,16) text features; average over templates; "
                    "renormalise; then as above",
        "text_features": "text_features.npy: (5,16) unnormalised, template 'a photo of a {}.', "
                         "HF get_text_features one prompt at a time, unpadded",
        "accuracy": sum(int(p == y) for p, y in zip(pred, LABELS)) / len(LABELS),
        "accuracy_ensemble": sum(int(p == y) for p, y in zip(pred_e, LABELS)) / len(LABELS),
    })
    return pred, pred_e


README = """\
# CoOp reference fixtures (generated)

Written by `Scripts/make_coop_fixtures.py` (PyTorch autograd, structure of
CoOp `trainers/coop.py`) from the `../tiny-clip` model (text width 16, 2
layers, 2 heads, QuickGELU, projection 16, logit_scale 2.6592).  Do not edit
by hand.  All `.npy`: numpy 1.0, float32, little-endian, C order.

Shared inputs:
- `classnames.txt`: 5 names, one per line, as given (CoOp replaces "_" by " ").
- `features.npy` (12,16): image features (torch.randn, seed 1234), not normalised.
- `labels.txt`: 12 labels, one per line.

Per case dir (`generic_init`, `csc_middle_random`, `generic_front_random`):
- `meta.json`: every setting (n_ctx, ctx_init, csc, class_position, base_lr,
  weight_decay, momentum, epochs, warm-up, lr per epoch, logit scale), the
  prompts, their open_clip ids, and `slots`: per class the L ids actually run
  (L = longest EOT + 1; padding id 0), with context slot k written as -1-k.
- `ctx_init.npy`, `ctx_final.npy`: (n_ctx,16), or (5,n_ctx,16) when csc.
- `grad_init.npy`: d loss / d ctx at ctx_init, no weight decay.
- `text_features_init.npy`, `text_features_final.npy`: (5,16), unnormalised.
- `losses.json`: loss of epoch e's single full-batch step, before the update.

Training: torch SGD(momentum 0.9, dampening 0, nesterov False,
weight_decay wd) over ctx only; one full-batch step per epoch, no shuffle;
lr(e) = 1e-5 for e = 0, else 0.5*base_lr*(1+cos(pi*(e-1)/epochs)).
Text encoder: x = prompt embeddings + position_embedding[:L]; HF layers with a
causal mask; final_layer_norm; EOT row (argmax of ids); text_projection.  It
equals get_text_features on plain prompts (asserted, max abs diff < 2e-6).

`zeroshot/`: HF get_text_features on "a photo of a {}." -> `probabilities.npy`
(12,5) = softmax(exp(logit_scale) * cos), `predictions.txt`,
`text_features.npy` (5,16); the ensemble of "a photo of a {}.", "a {} texture.",
"itap of a {}." (normalise each, average, renormalise) ->
`probabilities_ensemble.npy`, `predictions_ensemble.txt`.
"""


def main():
    if not (MODEL_DIR / "model.safetensors").exists():
        sys.exit(f"{MODEL_DIR} is missing: run Scripts/make_fixtures.py first")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()

    clip = CLIPModel.from_pretrained(MODEL_DIR, attn_implementation="eager", dtype=torch.float32).eval()
    for p in clip.parameters():
        p.requires_grad_(False)
    enc = TextEncoder(clip)

    # the text encoder on plain token embeddings == HF get_text_features
    names = [n.replace("_", " ") for n in CLASSNAMES]
    verify_sets = {
        "a photo of a {name}.": [f"a photo of a {n}." for n in names],
        "X X {name}.": [f"X X {n}." for n in names],
        "mixed lengths": ["hello world", "a photo of a dog.", "", "X X X X cat.",
                          "a photo of a hard-leaved pocket orchid, a type of flower."],
    }
    verification = {k: verify_text_encoder(clip, enc, v) for k, v in verify_sets.items()}

    # image features and labels
    g = torch.Generator().manual_seed(FEATURE_SEED)
    img = torch.randn(N_FEATURES, 16, generator=g)
    labels = torch.tensor(LABELS)
    assert sorted(set(LABELS)) == list(range(len(CLASSNAMES)))
    save_npy(OUT / "features.npy", img)
    (OUT / "labels.txt").write_text("".join(f"{y}\n" for y in LABELS))
    (OUT / "classnames.txt").write_text("".join(f"{n}\n" for n in CLASSNAMES), encoding="utf-8")
    (OUT / "README.md").write_text(README, encoding="utf-8")

    results = [run_case(clip, enc, img, labels, c, OUT / c["name"]) for c in CASES]
    pred, pred_e = zeroshot(clip, img, OUT / "zeroshot")

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"open_clip {open_clip.__version__}, numpy {np.__version__}")
    print("\n== text encoder vs get_text_features (max abs) ==")
    for k, v in verification.items():
        print(f"  {k}: " + ", ".join(f"{a}={b:.2e}" for a, b in v.items()))
    for r in results:
        print(f"\n== {r['name']} (base_lr {r['base_lr']}) ==")
        print("  losses: " + " ".join(f"{x:.5f}" for x in r["losses"]))
        print(f"  relative context movement {r['rel']:.4f}")
        for k, v in r["notes"].items():
            print(f"  {k}: {v}")
    print(f"\n== zeroshot ==\n  predictions {pred}\n  ensemble    {pred_e}\n  labels      {LABELS}")
    print("\n== files ==")
    total = 0
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            h = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            print(f"  {p.stat().st_size:>8}  {h}  {p.relative_to(OUT)}")
    print(f"  {total:>8}  TOTAL")


if __name__ == "__main__":
    main()
