#!/usr/bin/env python3
"""CPU throughput of the PyTorch reference implementations, for comparison
with the Swift engine.  Run by hand, never in CI.

Setup: the same venv as Scripts/make_fixtures.py (see its header), i.e.

    python3 -m venv /work/refenv
    /work/refenv/bin/pip install torch torchvision transformers open_clip_torch \
        pillow numpy safetensors ftfy regex

Run:

    /work/refenv/bin/python Scripts/bench_reference.py [--threads 2]

Prints JSON lines:

1. {"reference": "transformers", "images_per_second": ...}: transformers
   CLIPModel with ViT-B/16 shapes (random weights from CLIPConfig, float32,
   eval, no_grad), get_image_features on a batch of 8 random 224x224
   images; one warm-up run, then the best of 3.

2. {"reference": "coop_step", ...}: one CoOp training step (KaiyangZhou/CoOp
   trainers/coop.py structure) on the ViT-B/16 text encoder (width 512, 12
   layers, 8 heads, QuickGELU; open_clip's TextTransformer modules, which
   are OpenAI's model.py layers): 47 DTD prompts "X X X X {class}.", 4
   shared context vectors as the only trainable tensor (inserted into the
   token embeddings, inputs_embeds style), a batch of 32 cached image
   features, cross-entropy, backward, SGD step.  Once with the full 77-token
   prompts, once truncated to the longest EOT + 1 (exact, thanks to the
   causal mask).  Warm-up step, then best of 3.

Random weights: timings do not depend on the values.  Numbers on a shared
machine are only indicative; the load average at start is printed.
"""

import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import transformers
from transformers import CLIPConfig, CLIPModel
import open_clip
from open_clip.model import CLIPTextCfg, _build_text_tower

# DTD's 47 class names (CoOp uses the folder names).
DTD = ["banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed", "cracked",
       "crosshatched", "crystalline", "dotted", "fibrous", "flecked", "freckled", "frilly",
       "gauzy", "grid", "grooved", "honeycombed", "interlaced", "knitted", "lacelike", "lined",
       "marbled", "matted", "meshed", "paisley", "perforated", "pitted", "pleated",
       "polka-dotted", "porous", "potholed", "scaly", "smeared", "spiralled", "sprinkled",
       "stained", "stratified", "striped", "studded", "swirly", "veined", "waffled", "woven",
       "wrinkled", "zigzagged"]


def best_of(fn, repeats=3):
    fn()                                     # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), times


def bench_image(batch=8):
    cfg = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048,
                         num_hidden_layers=12, num_attention_heads=8, max_position_embeddings=77,
                         hidden_act="quick_gelu", projection_dim=512, bos_token_id=49406,
                         eos_token_id=49407),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=224, patch_size=16,
                           hidden_act="quick_gelu", projection_dim=512),
        projection_dim=512,
    )
    model = CLIPModel(cfg).eval()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 224, 224, generator=gen)

    def run():
        with torch.no_grad():
            out = model.get_image_features(pixel_values=x)
            out = out if isinstance(out, torch.Tensor) else out.pooler_output
            assert out.shape == (batch, 512)

    best, times = best_of(run)
    return {"reference": "transformers", "model": "CLIPModel ViT-B/16 (random init)",
            "batch": batch, "images_per_second": round(batch / best, 3),
            "seconds_per_batch": [round(t, 4) for t in times],
            "attn_implementation": model.config._attn_implementation,
            "torch": torch.__version__, "transformers": transformers.__version__,
            "threads": torch.get_num_threads()}


class CoOpTextEncoder(nn.Module):
    """CoOp's TextEncoder: prompts are token embeddings (with the learnable
    context spliced in); pooled at argmax(tokenized) = EOT."""

    def __init__(self, tower):
        super().__init__()
        self.transformer = tower.transformer
        self.positional_embedding = tower.positional_embedding
        self.ln_final = tower.ln_final
        self.text_projection = tower.text_projection
        self.register_buffer("attn_mask", tower.attn_mask, persistent=False)

    def forward(self, prompts, tokenized):
        n = prompts.shape[1]
        x = prompts + self.positional_embedding[:n]
        x = self.transformer(x, attn_mask=self.attn_mask[:n, :n])   # batch-first in open_clip 3.x
        x = self.ln_final(x)
        x = x[torch.arange(x.shape[0]), tokenized.argmax(dim=-1)]
        return x @ self.text_projection


class PromptLearner(nn.Module):
    """Generic (shared) context, class token at the end, n_ctx = 4."""

    def __init__(self, token_embedding, classnames, n_ctx=4, width=512, length=None):
        super().__init__()
        gen = torch.Generator().manual_seed(1)
        self.ctx = nn.Parameter(0.02 * torch.randn(n_ctx, width, generator=gen))
        prompts = [" ".join(["X"] * n_ctx) + " " + name + "." for name in classnames]
        tokenized = open_clip.tokenize(prompts)                       # [n_cls, 77]
        if length is not None:
            tokenized = tokenized[:, :length]
        with torch.no_grad():
            emb = token_embedding(tokenized)
        self.register_buffer("prefix", emb[:, :1].clone())           # SOT
        self.register_buffer("suffix", emb[:, 1 + n_ctx:].clone())   # class, ".", EOT, padding
        self.register_buffer("tokenized", tokenized)

    def forward(self):
        n_cls = self.prefix.shape[0]
        ctx = self.ctx.unsqueeze(0).expand(n_cls, -1, -1)
        return torch.cat([self.prefix, ctx, self.suffix], dim=1)


def bench_coop(batch=32, n_ctx=4):
    torch.manual_seed(0)
    cfg = CLIPTextCfg(context_length=77, vocab_size=49408, width=512, heads=8, layers=12)
    tower = _build_text_tower(512, cfg, quick_gelu=True).eval()
    for p in tower.parameters():
        p.requires_grad_(False)
    encoder = CoOpTextEncoder(tower)
    full = open_clip.tokenize([" ".join(["X"] * n_ctx) + " " + n + "." for n in DTD])
    longest = int(full.argmax(dim=-1).max()) + 1
    gen = torch.Generator().manual_seed(2)
    image_features = F.normalize(torch.randn(batch, 512, generator=gen), dim=-1)  # cached, frozen
    labels = torch.randint(0, len(DTD), (batch,), generator=gen)
    logit_scale = torch.tensor(100.0)
    results = {}
    for label, length in (("77_tokens", None), (f"truncated_{longest}_tokens", longest)):
        learner = PromptLearner(tower.token_embedding, DTD, n_ctx=n_ctx, length=length)
        opt = torch.optim.SGD([learner.ctx], lr=0.002, momentum=0.9)

        def step():
            text_features = F.normalize(encoder(learner(), learner.tokenized), dim=-1)
            logits = logit_scale * image_features @ text_features.t()
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        best, times = best_of(step)
        results[label] = {"prompt_tokens": learner.tokenized.shape[1],
                          "seconds_per_step": round(best, 4),
                          "all": [round(t, 4) for t in times]}
    return {"reference": "coop_step", "text_encoder": "ViT-B/16 text (512w, 12L, 8H, QuickGELU)",
            "n_cls": len(DTD), "n_ctx": n_ctx, "batch_image_features": batch,
            "grads": "input gradients only (all weights frozen, ctx trainable)",
            "results": results, "torch": torch.__version__,
            "open_clip": open_clip.__version__, "threads": torch.get_num_threads()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-coop", action="store_true")
    ap.add_argument("--skip-image", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"loadavg_at_start": os.getloadavg()[0], "cpus": os.cpu_count()}), flush=True)
    if not args.skip_image:
        print(json.dumps(bench_image()), flush=True)
    if not args.skip_coop:
        print(json.dumps(bench_coop()), flush=True)


if __name__ == "__main__":
    main()
