/*
 * half_convert.h - IEEE binary16 (numpy float16, "<f2") to float32, with an
 * optional per-call scale, for feature rows kept in half precision.
 *
 * The conversion is exact (every half is a float).  The scaled form computes
 * (float)h * scale in float32, one rounding, as a Swift Float(Float16) * scale.
 * Levels: 0 portable C, 1 F16C (vcvtph2ps); the best one is chosen at run time.
 */
#ifndef ALVLM_HALF_CONVERT_H
#define ALVLM_HALF_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dst[i] = (float)src[i] * scale for i < n. */
void alvlm_half_to_float(const uint16_t *src, float *dst, size_t n, float scale);

/* Highest level this CPU supports (0 or 1). */
int alvlm_half_level(void);

/* Use at most this level (tests compare the levels); clamped to the CPU's. */
void alvlm_half_force_level(int level);

#ifdef __cplusplus
}
#endif

#endif
