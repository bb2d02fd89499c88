/*
 * half_convert.c - see half_convert.h.
 */
#include "half_convert.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/* Portable exact conversion by bit manipulation (denormals normalised). */
static float half_bits_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1fu) {
        bits = sign | 0x7f800000u | (mantissa << 13);          /* infinity or NaN (payload kept) */
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;                                             /* signed zero */
    } else {
        /* Denormal: value = mantissa * 2^-24; shift it up to a normal float. */
        int shift = 0;
        while ((mantissa & 0x400u) == 0) { mantissa <<= 1; shift++; }
        mantissa &= 0x3ffu;
        bits = sign | ((uint32_t)(113 - shift) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void convert_portable(const uint16_t *src, float *dst, size_t n, float scale) {
    if (scale == 1.0f) {
        for (size_t i = 0; i < n; i++) dst[i] = half_bits_to_float(src[i]);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = half_bits_to_float(src[i]) * scale;
    }
}

#if HAVE_X86
__attribute__((target("f16c,avx")))
static void convert_f16c(const uint16_t *src, float *dst, size_t n, float scale) {
    size_t i = 0;
    const __m256 s = _mm256_set1_ps(scale);
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtph_ps(h), s));
    }
    convert_portable(src + i, dst + i, n - i, scale);
}
#endif

static int detected = -1, forced = 99;

static int detect(void) {
#if HAVE_X86
    __builtin_cpu_init();
    return (__builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx")) ? 1 : 0;
#else
    return 0;
#endif
}

/* Detected once when the library is loaded, before any thread can convert. */
__attribute__((constructor)) static void half_detect_at_load(void) { detected = detect(); }

int alvlm_half_level(void) { return detected < 0 ? detect() : detected; }

void alvlm_half_force_level(int level) { forced = level < 0 ? 0 : level; }

void alvlm_half_to_float(const uint16_t *src, float *dst, size_t n, float scale) {
    int level = alvlm_half_level();
    if (forced < level) level = forced;
#if HAVE_X86
    if (level >= 1) { convert_f16c(src, dst, n, scale); return; }
#endif
    convert_portable(src, dst, n, scale);
}
