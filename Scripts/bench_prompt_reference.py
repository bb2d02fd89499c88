#!/usr/bin/env python3
"""Seconds per VPT-deep or MaPLe training step in PyTorch float32, the reference beside `alvlm bench vpt|maple`.

Run by hand through Scripts/bench.sh vpt|maple (never in CI); same reference venv as Scripts/make_fixtures.py.
A random-weight transformers CLIPModel of ViT-B/16's shape; the prompted towers of the official code
(github muzairkhattak/multimodal-prompt-learning, as Scripts/make_prompt_fixtures.py writes them) with
torch's scaled_dot_product_attention; batch 32 of random pixels, 47 DTD class prompts, cross-entropy, backward to
the prompts only (CLIP frozen). The official recipe's sizes: VPT 8 tokens x depth 12, MaPLe 2 x depth 9. MaPLe's
text encoder runs on the official 77 tokens and, for comparison, truncated after the longest EOT.
Prints one JSON line.
"""

import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel

DTD = ["banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed", "cracked", "crosshatched",
       "crystalline", "dotted", "fibrous", "flecked", "freckled", "frilly", "gauzy", "grid", "grooved", "honeycombed",
       "interlaced", "knitted", "lacelike", "lined", "marbled", "matted", "meshed", "paisley", "perforated", "pitted",
       "pleated", "polka-dotted", "porous", "potholed", "scaly", "smeared", "spiralled", "sprinkled", "stained",
       "stratified", "striped", "studded", "swirly", "veined", "waffled", "woven", "wrinkled", "zigzagged"]


def block(layer, x, heads, causal):
    n, L, c = x.shape
    a = layer.self_attn
    y = layer.layer_norm1(x)
    q, k, v = (p(y).view(n, L, heads, c // heads).transpose(1, 2) for p in (a.q_proj, a.k_proj, a.v_proj))
    o = F.scaled_dot_product_attention(q, k, v, is_causal=causal).transpose(1, 2).reshape(n, L, c)
    x = x + a.out_proj(o)
    u = layer.mlp.fc1(layer.layer_norm2(x))
    return x + layer.mlp.fc2(u * torch.sigmoid(1.702 * u))


def image(clip, pixels, first, deep):
    vm = clip.vision_model
    e = vm.embeddings
    x = e.patch_embedding(pixels).flatten(2).transpose(1, 2)
    b, n = x.shape[0], first.shape[0]
    x = torch.cat([e.class_embedding.expand(b, 1, -1), x], 1) + e.position_embedding.weight[None]
    x = vm.pre_layrnorm(torch.cat([x, first.expand(b, -1, -1)], 1))
    for i, layer in enumerate(vm.encoder.layers):
        if i in deep:
            x = torch.cat([x[:, :-n], deep[i].expand(b, -1, -1)], 1)
        x = block(layer, x, vm.config.num_attention_heads, False)
    return clip.visual_projection(vm.post_layernorm(x[:, 0]))


def text(clip, embedded, eot, ctx, deep):
    tm = clip.text_model
    c, L, _ = embedded.shape
    n = ctx.shape[0]
    x = torch.cat([embedded[:, :1], ctx.expand(c, -1, -1), embedded[:, 1 + n:]], 1) + tm.embeddings.position_embedding.weight[:L][None]
    for i, layer in enumerate(tm.encoder.layers):
        if i in deep:
            x = torch.cat([x[:, :1], deep[i].expand(c, -1, -1), x[:, 1 + n:]], 1)
        x = block(layer, x, tm.config.num_attention_heads, True)
    return clip.text_projection(tm.final_layer_norm(x)[torch.arange(c), eot])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("method", choices=["vpt", "maple"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = CLIPConfig(text_config=dict(hidden_act="quick_gelu"),
                     vision_config=dict(patch_size=16, hidden_act="quick_gelu"), projection_dim=512)
    clip = CLIPModel(cfg).eval()
    for p in clip.parameters():
        p.requires_grad_(False)
    wt, wv = 512, 768
    # Token ids of "a photo of a {class}." are not needed for timing: random ids with the EOT where a real prompt
    # ends (5 + class tokens + 2) give the same shapes.
    classes = len(DTD)
    lengths = torch.tensor([8 + (len(name) > 9) for name in DTD])
    ids = torch.randint(1, 49000, (classes, 77))
    eot_full = lengths - 1
    pixels = torch.randn(args.batch, 3, 224, 224)
    labels = torch.randint(0, classes, (args.batch,))
    scale = clip.logit_scale.exp()
    if args.method == "vpt":
        n, depth = 8, 12
        prompts = torch.nn.Parameter(torch.randn(depth, n, wv) * 0.02)
        with torch.no_grad():
            txt = F.normalize(text(clip, clip.text_model.embeddings.token_embedding(ids), eot_full, torch.zeros(0, wt), {}), dim=-1)

        def step(_):
            img = image(clip, pixels, prompts[0], {i: prompts[i] for i in range(1, depth)})
            loss = F.cross_entropy(scale * F.normalize(img, dim=-1) @ txt.T, labels)
            loss.backward()
        variants = {"vpt": None}
    else:
        n, depth = 2, 9
        ctx = torch.nn.Parameter(torch.randn(n, wt) * 0.02)
        proj = torch.nn.Linear(wt, wv)
        compound = [torch.nn.Parameter(torch.randn(n, wt) * 0.02) for _ in range(depth - 1)]
        projections = [torch.nn.Linear(wt, wv) for _ in range(depth - 1)]

        def step(length):
            emb = clip.text_model.embeddings.token_embedding(ids[:, :length])
            txt = text(clip, emb, eot_full, ctx, {i: compound[i - 1] for i in range(1, depth)})
            img = image(clip, pixels, proj(ctx), {i: projections[i - 1](compound[i - 1]) for i in range(1, depth)})
            loss = F.cross_entropy(scale * F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T, labels)
            loss.backward()
        variants = {"77_tokens": 77, "truncated": int(lengths.max())}
    results = {}
    for name, length in variants.items():
        step(length)  # warm-up
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step(length)
            times.append(time.perf_counter() - t0)
        results[name] = {"seconds_per_step": min(times), "median_seconds": sorted(times)[len(times) // 2]}
    print(json.dumps({"reference": "pytorch", "method": args.method, "batch": args.batch, "classes": classes,
                      "n_ctx": n, "depth": depth, "threads": args.threads, "torch": torch.__version__,
                      "results": results,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, sort_keys=True))


if __name__ == "__main__":
    main()
