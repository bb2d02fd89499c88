/*
 * bf16_linear.h - opt-in bfloat16 linear layer (y = x W^T + b) for x86-64.
 *
 * Levels:
 *   0  not available (a slow scalar fallback still computes the right thing)
 *   1  AVX512-BF16 (vdpbf16ps)
 *   2  AMX-BF16 (tile registers; Linux permission for XTILEDATA granted)
 *
 * Numerics: x and W are rounded to bf16 (round-to-nearest-even, NaN kept
 * as a quiet NaN), products are accumulated in float32.  Apart from the
 * summation order, levels 1/2 differ from level 0 only for denormals (the
 * hardware conversion and dot-product instructions treat them as zero).
 */
#ifndef ALVLM_BF16_LINEAR_H
#define ALVLM_BF16_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Best level usable in this process (0, 1 or 2).  The first call does the
 * CPU/OS detection and, for AMX, asks Linux for permission to use tile data
 * (arch_prctl ARCH_REQ_XCOMP_PERM).  The result is cached.  Call it once at
 * start-up, before spawning worker threads that use the kernel. */
int alvlm_bf16_level(void);

/* Lower the level used by alvlm_bf16_linear (for tests/benchmarks).  A value
 * above the detected level is clamped to it; negative values are treated as 0. */
void alvlm_bf16_force_level(int level);

/* Number of uint16_t elements needed for a packed W of shape [out, in]. */
size_t alvlm_bf16_packed_size(int out, int in);

/* Pack a row-major float32 weight W[out][in] (nn.Linear layout) into the
 * kernel's bf16 layout.  `packed` must hold alvlm_bf16_packed_size(out, in)
 * elements; 64-byte alignment is recommended (not required). */
void alvlm_bf16_pack(const float *w, int out, int in, uint16_t *packed);

/* y[r][o] = (accumulate ? y[r][o] : 0) + bias[o] + sum_i bf16(x[r][i]) * bf16(W[o][i])
 * x: [rows][in] row-major float32, y: [rows][out] row-major float32,
 * bias: [out] or NULL.  Single-threaded and reentrant: several threads may
 * call it at once on disjoint y rows.  Allocates per-call scratch with malloc. */
void alvlm_bf16_linear(const float *x, int rows, int in,
                       const uint16_t *packed, int out,
                       const float *bias, float *y, int accumulate);

#ifdef __cplusplus
}
#endif

#endif
