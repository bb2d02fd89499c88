#!/usr/bin/env python3
"""Generate the VPT and MaPLe reference fixtures in Tests/Fixtures/prompts/ with
PyTorch autograd, following the mathematics of the official code
(github muzairkhattak/multimodal-prompt-learning: trainers/vpt.py,
trainers/maple.py and the prompted blocks of clip/model.py) as
../shared/reference/PROMPTS.md restates it, in float32.

Run by hand, never in CI; the Swift tests only read what it writes.  Same
reference venv as Scripts/make_fixtures.py (only torch, transformers, numpy
and safetensors are used):

    /work/refenv/bin/python Scripts/make_prompt_fixtures.py

Inputs: the random-weight models Tests/Fixtures/tiny-clip (QuickGELU) and
Tests/Fixtures/tiny-clip-f16-gelu (GELU, float16 weights, run in float32),
the class names of Tests/Fixtures/coop/classnames.txt, and pixels made by a
formula both sides compute exactly (no 150k-value file committed per image):

    pixels[i] = ((i * 2654435761) mod 2^32 >> 22) / 256 - 2,  i the flat index
    of a float32 (N, 3, S, S) array, N = 8

Per case (model x method x depth) a folder with:
  meta.json                 every setting, the labels, the lr of each epoch
  init.safetensors          the starting prompts (PROMPTS.md section 6 names)
  logits_init.npy           (N, C) logits at init, exp(logit_scale) included
  grad_init.safetensors     d mean-CE / d tensor at init (no weight decay)
  losses.json               the loss of each epoch's full-batch step, before it
  final.safetensors         the prompts after the last epoch
  zero_logits.npy           (N, C) logits with zero prompts (n_ctx = 0)

Training: torch.optim.SGD(momentum, dampening 0, nesterov False, weight
decay) over the prompt tensors only; one full-batch step per epoch, no
shuffle; lr(e) = 1e-5 for e = 0, else 0.5*lr*(1+cos(pi*(e-1)/epochs)).
"""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import CLIPModel, CLIPTokenizer

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "Tests" / "Fixtures"
OUT = FIXTURES / "prompts"
N_IMAGES = 8
LABELS = [0, 1, 2, 3, 4, 0, 2, 4]
MOMENTUM, WEIGHT_DECAY, EPOCHS = 0.9, 0.005, 6

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def formula_pixels(n, s):
    i = np.arange(n * 3 * s * s, dtype=np.uint64)
    h = (i * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    v = (h >> np.uint64(22)).astype(np.float32) / np.float32(256) - np.float32(2)
    return torch.from_numpy(v.reshape(n, 3, s, s))


def lr_at(epoch, base_lr, epochs):
    return 1e-5 if epoch < 1 else 0.5 * base_lr * (1 + math.cos(math.pi * (epoch - 1) / epochs))


class Towers:
    """CLIP's towers written out from the HF modules, with the prompt hooks."""

    def __init__(self, clip):
        self.clip = clip
        self.act = clip.config.vision_config.hidden_act
        assert clip.config.text_config.hidden_act == self.act

    def block(self, layer, x, heads, mask):
        n, L, c = x.shape
        d = c // heads
        a = layer.self_attn
        y = layer.layer_norm1(x)
        q = a.q_proj(y).view(n, L, heads, d).transpose(1, 2)
        k = a.k_proj(y).view(n, L, heads, d).transpose(1, 2)
        v = a.v_proj(y).view(n, L, heads, d).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) * (d ** -0.5)
        if mask is not None:
            s = s + mask
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(n, L, c)
        x = x + a.out_proj(o)
        u = layer.mlp.fc1(layer.layer_norm2(x))
        u = u * torch.sigmoid(1.702 * u) if self.act == "quick_gelu" else F.gelu(u)
        return x + layer.mlp.fc2(u)

    def image(self, pixels, first, deep):
        """first: (n, Wv) appended after [CLS, patches]; deep[i]: (n, Wv) replacing them before layer i."""
        vm = self.clip.vision_model
        emb = vm.embeddings
        x = emb.patch_embedding(pixels).flatten(2).transpose(1, 2)
        b = x.shape[0]
        x = torch.cat([emb.class_embedding.expand(b, 1, -1), x], 1) + emb.position_embedding.weight[None]
        n = 0 if first is None else first.shape[0]
        if n:
            x = torch.cat([x, first.expand(b, -1, -1)], 1)
        x = vm.pre_layrnorm(x)
        for i, layer in enumerate(vm.encoder.layers):
            if n and i in deep:
                x = torch.cat([x[:, :-n], deep[i].expand(b, -1, -1)], 1)
            x = self.block(layer, x, vm.config.num_attention_heads, None)
        return self.clip.visual_projection(vm.post_layernorm(x[:, 0]))

    def text(self, ids, ctx, deep):
        """ids (C, 77); ctx (n, Wt) replaces positions 1..n of the token embeddings; deep[i] replaces them before layer i."""
        tm = self.clip.text_model
        e = tm.embeddings.token_embedding(ids)
        c, L = ids.shape
        n = 0 if ctx is None else ctx.shape[0]
        if n:
            e = torch.cat([e[:, :1], ctx.expand(c, -1, -1), e[:, 1 + n:]], 1)
        x = e + tm.embeddings.position_embedding.weight[:L][None]
        mask = torch.full((L, L), float("-inf")).triu_(1)
        for i, layer in enumerate(tm.encoder.layers):
            if n and i in deep:
                x = torch.cat([x[:, :1], deep[i].expand(c, -1, -1), x[:, 1 + n:]], 1)
            x = self.block(layer, x, tm.config.num_attention_heads, mask)
        x = tm.final_layer_norm(x)
        return self.clip.text_projection(x[torch.arange(c), ids.argmax(-1)])


def logits(img, txt, scale):
    return scale * F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T


def class_ids(tokenizer, names, prefix):
    rows = []
    for name in names:
        ids = tokenizer(prefix + " " + name.replace("_", " ") + ".")["input_ids"]
        rows.append(ids + [0] * (77 - len(ids)))
    return torch.tensor(rows)


class VPT:
    def __init__(self, towers, ids, n, depth, seed):
        g = torch.Generator().manual_seed(seed)
        wv = towers.clip.config.vision_config.hidden_size
        self.t = towers
        self.params = {"visual_prompts": torch.nn.Parameter(torch.randn(depth, n, wv, generator=g) * 0.02)}
        with torch.no_grad():
            self.text = towers.text(ids, None, {})

    def logits(self, pixels, scale):
        p = self.params["visual_prompts"]
        first = p[0] if p.shape[0] else None
        return logits(self.t.image(pixels, first, {i: p[i] for i in range(1, p.shape[0])}), self.text, scale)


class MaPLe:
    def __init__(self, towers, ids, n, depth, seed):
        g = torch.Generator().manual_seed(seed)
        c = towers.clip.config
        wt, wv = c.text_config.hidden_size, c.vision_config.hidden_size
        self.t, self.ids, self.n = towers, ids, n
        bound = 1 / math.sqrt(wt)
        emb = towers.clip.text_model.embeddings.token_embedding.weight
        p = {"text_ctx": emb[ids[0, 1:1 + n]].detach().clone(),
             "proj.weight": (torch.rand(wv, wt, generator=g) * 2 - 1) * bound,
             "proj.bias": (torch.rand(wv, generator=g) * 2 - 1) * bound}
        for i in range(1, depth):
            p[f"compound_text.{i}"] = torch.randn(n, wt, generator=g) * 0.02
        # distinct projections (not the official identical copies) so that every gradient is told apart
        for i in range(1, depth):
            p[f"compound_proj.{i}.weight"] = (torch.rand(wv, wt, generator=g) * 2 - 1) * bound
            p[f"compound_proj.{i}.bias"] = (torch.rand(wv, generator=g) * 2 - 1) * bound
        self.depth = depth
        self.params = {k: torch.nn.Parameter(v.float()) for k, v in p.items()}

    def logits(self, pixels, scale):
        p = self.params
        proj = lambda x, name: F.linear(x, p[name + ".weight"], p[name + ".bias"])
        deep_text = {i: p[f"compound_text.{i}"] for i in range(1, self.depth)}
        deep_image = {i: proj(p[f"compound_text.{i}"], f"compound_proj.{i}") for i in range(1, self.depth)}
        txt = self.t.text(self.ids, p["text_ctx"], deep_text)
        img = self.t.image(pixels, proj(p["text_ctx"], "proj"), deep_image)
        return logits(img, txt, scale)


def tensors_np(d):
    return {k: v.detach().float().clone().contiguous() for k, v in d.items()}


def run_case(folder, model_dir, method, n, depth, base_lr, seed):
    clip = CLIPModel.from_pretrained(model_dir, torch_dtype=torch.float32).float().eval()
    for q in clip.parameters():
        q.requires_grad_(False)
    tokenizer = CLIPTokenizer.from_pretrained(model_dir)
    names = (FIXTURES / "coop" / "classnames.txt").read_text().splitlines()
    towers = Towers(clip)
    s = clip.config.vision_config.image_size
    pixels = formula_pixels(N_IMAGES, s)
    labels = torch.tensor(LABELS)
    scale = clip.logit_scale.exp()
    ids = class_ids(tokenizer, names, "a photo of a")
    learner = (VPT if method == "vpt" else MaPLe)(towers, ids, n, depth, seed)
    out = OUT / folder
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    init = tensors_np(learner.params)
    save_file(init, out / "init.safetensors")
    lg = learner.logits(pixels, scale)
    np.save(out / "logits_init.npy", lg.detach().numpy().astype(np.float32))
    loss = F.cross_entropy(lg, labels)
    grads = torch.autograd.grad(loss, list(learner.params.values()))
    save_file({k: g.contiguous() for k, g in zip(learner.params, grads)}, out / "grad_init.safetensors")
    # zero prompts
    zero = (VPT if method == "vpt" else MaPLe)(towers, ids, 0, depth, seed)
    np.save(out / "zero_logits.npy", zero.logits(pixels, scale).detach().numpy().astype(np.float32))
    opt = torch.optim.SGD(list(learner.params.values()), lr=base_lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    losses, rates = [], []
    for e in range(EPOCHS):
        lr = lr_at(e, base_lr, EPOCHS)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss = F.cross_entropy(learner.logits(pixels, scale), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        rates.append(lr)
    final = tensors_np(learner.params)
    save_file(final, out / "final.safetensors")
    moved = math.sqrt(sum(((final[k] - init[k]) ** 2).sum().item() for k in init))
    size = math.sqrt(sum((init[k] ** 2).sum().item() for k in init))
    assert moved > 0.05 * size, (folder, moved, size)          # training moved the prompts measurably
    assert all(a > b for a, b in zip(losses, losses[1:])), (folder, losses)  # and smoothly
    meta = dict(model=model_dir.name, method=method, n_ctx=n, depth=depth, lr=base_lr, momentum=MOMENTUM,
                weight_decay=WEIGHT_DECAY, epochs=EPOCHS, lr_per_epoch=rates, labels=LABELS, images=N_IMAGES,
                pixels="((i * 2654435761) mod 2^32 >> 22) / 256 - 2", moved=moved, init_norm=size,
                logit_scale=float(clip.logit_scale))
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    (out / "losses.json").write_text(json.dumps(losses) + "\n")
    print(f"{folder}: loss {losses[0]:.5f} -> {losses[-1]:.5f}, moved {moved:.4f} of {size:.4f}")


CASES = [
    # folder, model, method, n_ctx, depth, lr, seed
    ("vpt_quick_d1", "tiny-clip", "vpt", 3, 1, 0.005, 1),
    ("vpt_quick_d2", "tiny-clip", "vpt", 2, 2, 0.005, 2),
    ("vpt_gelu_d2", "tiny-clip-f16-gelu", "vpt", 4, 2, 0.005, 3),
    ("vpt_gelu_d1", "tiny-clip-f16-gelu", "vpt", 1, 1, 0.005, 4),
    ("maple_quick_d1", "tiny-clip", "maple", 2, 1, 0.003, 5),
    ("maple_quick_d2", "tiny-clip", "maple", 2, 2, 0.003, 6),
    ("maple_gelu_d2", "tiny-clip-f16-gelu", "maple", 3, 2, 0.003, 7),
    ("maple_gelu_d1", "tiny-clip-f16-gelu", "maple", 1, 1, 0.003, 8),
]

if __name__ == "__main__":
    for folder, model, method, n, depth, lr, seed in CASES:
        run_case(folder, FIXTURES / model, method, n, depth, lr, seed)
