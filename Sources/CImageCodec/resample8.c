// The inner loops of Pillow's 8-bit resampling (Swift's Resample drives them): one output row of a separable pass
// as integer multiply-adds over whole rows, compiled three times (AVX-512, AVX2, the baseline) and chosen once at
// run time. Integer arithmetic, so every version gives the same bytes.
#include "image_codec.h"
#include <string.h>

#define BLOCK 256  // accumulators per pass over the taps (1 KiB, stays in L1)

// dst[i] = clamp((2^(bits-1) + sum_t src[t * stride + i] * k[t]) >> bits, 0, 255) for i < len.
static inline __attribute__((always_inline)) void row_body(const uint8_t *src, size_t stride, const int32_t *k, int taps,
                                                           int bits, uint8_t *dst, size_t len) {
    const int32_t half = (int32_t)1 << (bits - 1);
    int32_t acc[BLOCK];
    for (size_t start = 0; start < len; start += BLOCK) {
        size_t n = len - start < BLOCK ? len - start : BLOCK;
        const uint8_t *s = src + start;
        for (size_t i = 0; i < n; i++) acc[i] = half;
        for (int t = 0; t < taps; t++) {
            const uint8_t *r = s + (size_t)t * stride;
            const int32_t c = k[t];
            // Wrapping adds as Pillow's int (the sums stay in range for normalised weights).
            for (size_t i = 0; i < n; i++) acc[i] = (int32_t)((uint32_t)acc[i] + (uint32_t)((int32_t)r[i] * c));
        }
        uint8_t *d = dst + start;
        for (size_t i = 0; i < n; i++) {
            int32_t v = acc[i] >> bits;
            d[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f,avx512bw")))
static void row_avx512(const uint8_t *src, size_t stride, const int32_t *k, int taps, int bits, uint8_t *dst, size_t len) {
    row_body(src, stride, k, taps, bits, dst, len);
}
__attribute__((target("avx2")))
static void row_avx2(const uint8_t *src, size_t stride, const int32_t *k, int taps, int bits, uint8_t *dst, size_t len) {
    row_body(src, stride, k, taps, bits, dst, len);
}
#endif
static void row_base(const uint8_t *src, size_t stride, const int32_t *k, int taps, int bits, uint8_t *dst, size_t len) {
    row_body(src, stride, k, taps, bits, dst, len);
}

typedef void (*row_fn)(const uint8_t *, size_t, const int32_t *, int, int, uint8_t *, size_t);

static row_fn pick(int level) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (level >= 2 && __builtin_cpu_supports("avx512bw")) return row_avx512;
    if (level >= 1 && __builtin_cpu_supports("avx2")) return row_avx2;
#endif
    (void)level;
    return row_base;
}

static row_fn g_row = 0;

int ac_resample_use(int level) {
    g_row = pick(level);
#if defined(__x86_64__) || defined(__i386__)
    if (g_row == row_avx512) return 2;
    if (g_row == row_avx2) return 1;
#endif
    return 0;
}

void ac_resample_row(const uint8_t *src, size_t stride, const int32_t *k, int taps, int bits, uint8_t *dst, size_t len) {
    row_fn f = __atomic_load_n(&g_row, __ATOMIC_RELAXED);
    if (!f) { f = pick(2); __atomic_store_n(&g_row, f, __ATOMIC_RELAXED); }
    f(src, stride, k, taps, bits, dst, len);
}

void ac_transpose(const uint8_t *src, size_t src_stride, int rows, int cols, int bands, uint8_t *dst, size_t dst_stride) {
    switch (bands) {
    case 3:
        for (int y = 0; y < rows; y++) {
            const uint8_t *s = src + (size_t)y * src_stride;
            uint8_t *d = dst + (size_t)y * 3;
            for (int x = 0; x < cols; x++, s += 3, d += dst_stride) { d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; }
        }
        break;
    case 1:
        for (int y = 0; y < rows; y++) {
            const uint8_t *s = src + (size_t)y * src_stride;
            for (int x = 0; x < cols; x++) dst[(size_t)x * dst_stride + y] = s[x];
        }
        break;
    default:
        for (int y = 0; y < rows; y++) {
            const uint8_t *s = src + (size_t)y * src_stride;
            for (int x = 0; x < cols; x++) memcpy(dst + (size_t)x * dst_stride + (size_t)y * bands, s + (size_t)x * bands, (size_t)bands);
        }
    }
}
