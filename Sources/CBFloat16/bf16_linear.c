/*
 * bf16_linear.c - bfloat16 linear layer kernels (scalar / AVX512-BF16 / AMX-BF16).
 *
 * Packed weight layout (shared by all levels):
 *   Kp = in rounded up to 32, Np = out rounded up to 32 (zero padding).
 *   The output columns are cut into blocks of 16.  Block nb holds, for every
 *   pair of input channels kp = 0 .. Kp/2-1, 16 columns x 2 channels:
 *       packed[((nb * (Kp/2) + kp) * 16 + j) * 2 + e] = bf16(W[nb*16 + j][2*kp + e])
 *   This is the "VNNI" layout: 64 bytes per channel pair, which is both one
 *   zmm operand of vdpbf16ps and one row of an AMX B tile (an AMX B tile for
 *   channels 32*kb .. 32*kb+31 is 1 KiB contiguous at offset kb*512 elements).
 *
 * The activations are converted per call, in blocks of rows, into a row-major
 * bf16 scratch buffer with row stride Kp (zero padded).
 */
#define _GNU_SOURCE
#include "bf16_linear.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ALVLM_X86 1
#include <cpuid.h>
#include <immintrin.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#else
#define ALVLM_X86 0
#endif

#define KALIGN 32 /* K padding */
#define NALIGN 32 /* N padding */

static inline int round_up(int v, int m) { return (v + m - 1) / m * m; }

/* ------------------------------------------------------------------------ */
/* float32 -> bf16, round to nearest even                                    */

static inline uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)      /* NaN: keep sign/payload top, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ------------------------------------------------------------------------ */
/* level detection                                                           */

static int g_detected = -1; /* -1: not yet detected */
static int g_forced = 99;

#if ALVLM_X86
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static int detect_level(void)
{
#if ALVLM_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0;               /* OSXSAVE */
    uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0xe6) != 0xe6) return 0;          /* SSE, AVX, opmask, ZMM state */
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    unsigned max_sub, b7, c7, d7;
    __cpuid_count(7, 0, max_sub, b7, c7, d7);
    int avx512 = (b7 & (1u << 16)) && (b7 & (1u << 30)) && (b7 & (1u << 31)); /* F, BW, VL */
    if (!avx512) return 0;
    int bf16 = 0;
    if (max_sub >= 1) {
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        bf16 = (a1 >> 5) & 1;                      /* AVX512_BF16 */
    }
    int level = bf16 ? 1 : 0;
    int amx = ((d7 >> 22) & 1) && ((d7 >> 24) & 1);/* AMX-BF16, AMX-TILE */
    if (bf16 && amx && (xcr0 & 0x60000) == 0x60000) {     /* XTILECFG, XTILEDATA enabled by OS */
#if defined(__linux__)
        /* Linux >= 5.16: tile data must be requested per process. */
        const long ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023;
        const unsigned long XFEATURE_XTILEDATA = 18;
        unsigned long bits = 0;
        syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
        if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) == 0 &&
            (bits & (1ul << XFEATURE_XTILEDATA)))
            level = 2;
#endif
        /* Other OSes: AMX is not enabled here (stay at level 1). */
    }
    /* Level 2 also requires AVX512-BF16 (used for the activation conversion);
     * every AMX-BF16 CPU has it. */
    return level;
#else
    return 0;
#endif
}

int alvlm_bf16_level(void)
{
    int lv = __atomic_load_n(&g_detected, __ATOMIC_ACQUIRE);
    if (lv < 0) {
        lv = detect_level();
        __atomic_store_n(&g_detected, lv, __ATOMIC_RELEASE);
    }
    int f = __atomic_load_n(&g_forced, __ATOMIC_RELAXED);
    return lv < f ? lv : f;
}

void alvlm_bf16_force_level(int level)
{
    if (level < 0) level = 0;
    __atomic_store_n(&g_forced, level, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------ */
/* packing                                                                    */

size_t alvlm_bf16_packed_size(int out, int in)
{
    return (size_t)round_up(out, NALIGN) * (size_t)round_up(in, KALIGN);
}

void alvlm_bf16_pack(const float *w, int out, int in, uint16_t *packed)
{
    const int Kp = round_up(in, KALIGN), Np = round_up(out, NALIGN);
    for (int n = 0; n < Np; n++) {
        uint16_t *dst = packed + (size_t)(n / 16) * Kp * 16 + (n % 16) * 2;
        if (n < out) {
            const float *src = w + (size_t)n * in;
            int k = 0;
            for (; k < in; k++) dst[(k / 2) * 32 + (k & 1)] = f32_to_bf16(src[k]);
            for (; k < Kp; k++) dst[(k / 2) * 32 + (k & 1)] = 0;
        } else {
            for (int k = 0; k < Kp; k++) dst[(k / 2) * 32 + (k & 1)] = 0;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* scalar fallback (level 0)                                                  */

static void linear_scalar(const float *x, int rows, int in, const uint16_t *packed,
                          int out, const float *bias, float *y, int accumulate)
{
    const int Kp = round_up(in, KALIGN);
    float *xb = (float *)malloc(sizeof(float) * (size_t)in);
    if (!xb) abort();
    for (int r = 0; r < rows; r++) {
        for (int k = 0; k < in; k++) xb[k] = bf16_to_f32(f32_to_bf16(x[(size_t)r * in + k]));
        float *yr = y + (size_t)r * out;
        for (int n = 0; n < out; n++) {
            const uint16_t *col = packed + (size_t)(n / 16) * Kp * 16 + (n % 16) * 2;
            float s = 0.f;
            for (int k = 0; k < in; k++) s += xb[k] * bf16_to_f32(col[(k / 2) * 32 + (k & 1)]);
            float base = accumulate ? yr[n] : 0.f;
            if (bias) base += bias[n];
            yr[n] = base + s;
        }
    }
    free(xb);
}

#if ALVLM_X86
/* ------------------------------------------------------------------------ */
/* AVX-512 helpers                                                            */

#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512vl")))
#define L1_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define L2_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))
#define FORCE_INLINE inline __attribute__((always_inline))

typedef int32_t __attribute__((may_alias, aligned(2))) i32_alias;

/* Hardware RNE conversion (vcvtneps2bf16): same as f32_to_bf16 except that
 * denormal inputs become (signed) zero - vdpbf16ps and tdpbf16ps treat
 * denormal bf16 inputs as zero anyway. */
static FORCE_INLINE L1_ATTR __m256i cvt16_bf16_hw(__m512 v)
{
    return (__m256i)_mm512_cvtneps_pbh(v);
}

/* Convert rows [0, nr) of x (row stride in) into dst (row stride Kp, zero
 * padded to Kp columns); rows [nr, nr_pad) are zero filled. */
static L1_ATTR void convert_rows(const float *x, int nr, int in, int Kp,
                                     uint16_t *dst, int nr_pad)
{
    for (int r = 0; r < nr; r++) {
        const float *s = x + (size_t)r * in;
        uint16_t *d = dst + (size_t)r * Kp;
        int k = 0;
        for (; k + 16 <= in; k += 16)
            _mm256_storeu_si256((__m256i *)(d + k), cvt16_bf16_hw(_mm512_loadu_ps(s + k)));
        for (; k < Kp; k += 16) { /* Kp is a multiple of 32, hence of 16 */
            int left = in - k;
            __mmask16 m = left <= 0 ? 0 : (__mmask16)((1u << left) - 1u);
            _mm256_storeu_si256((__m256i *)(d + k), cvt16_bf16_hw(_mm512_maskz_loadu_ps(m, s + k)));
        }
    }
    if (nr_pad > nr) memset(dst + (size_t)nr * Kp, 0, sizeof(uint16_t) * (size_t)(nr_pad - nr) * Kp);
}

/* Same conversion, AMX tile order: 16-row x 32-channel tiles of 1 KiB,
 * tile (rb, kb) at dst + (rb * (Kp/32) + kb) * 512, row stride 64 bytes inside.
 * Rows [nr, round_up(nr, 16)) are zero filled. */
static L1_ATTR void convert_rows_tiled(const float *x, int nr, int in, int Kp, uint16_t *dst)
{
    const int kblocks = Kp / 32;
    const int nr_pad = round_up(nr, 16);
    for (int r = 0; r < nr_pad; r++) {
        const float *s = x + (size_t)r * in;
        uint16_t *d = dst + (size_t)(r / 16) * kblocks * 512 + (r % 16) * 32;
        if (r >= nr) {
            for (int kb = 0; kb < kblocks; kb++) memset(d + (size_t)kb * 512, 0, 64);
            continue;
        }
        int k = 0;
        for (; k + 16 <= in; k += 16)
            _mm256_storeu_si256((__m256i *)(d + (k / 32) * 512 + (k % 32)), cvt16_bf16_hw(_mm512_loadu_ps(s + k)));
        for (; k < Kp; k += 16) {
            int left = in - k;
            __mmask16 m = left <= 0 ? 0 : (__mmask16)((1u << left) - 1u);
            _mm256_storeu_si256((__m256i *)(d + (k / 32) * 512 + (k % 32)), cvt16_bf16_hw(_mm512_maskz_loadu_ps(m, s + k)));
        }
    }
}

static inline __mmask16 col_mask(int left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
}

/* ------------------------------------------------------------------------ */
/* level 1: AVX512-BF16, MR rows x 32 columns register block                  */

/* The accumulators are spelled out as separate variables so that both gcc and
 * clang keep them in zmm registers at -O2 (arrays were spilled). */
#define L1_FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

static FORCE_INLINE L1_ATTR void
l1_block(const int MR, const uint16_t *A, int lda, const uint16_t *B0, const uint16_t *B1,
         int kpairs, float *y, int ldy, const float *bias, __mmask16 m0, __mmask16 m1, int acc)
{
    __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();
    if (bias) {
        bb0 = _mm512_maskz_loadu_ps(m0, bias);
        bb1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
#define L1_DECL(r) __m512 c0_##r = bb0, c1_##r = bb1;
    L1_FOR_ROWS(L1_DECL)
#undef L1_DECL
    if (acc) {
#define L1_LOADY(r)                                                                         \
    if (MR > r) {                                                                           \
        c0_##r = _mm512_add_ps(c0_##r, _mm512_maskz_loadu_ps(m0, y + (size_t)r * ldy));      \
        c1_##r = _mm512_add_ps(c1_##r, _mm512_maskz_loadu_ps(m1, y + (size_t)r * ldy + 16)); \
    }
        L1_FOR_ROWS(L1_LOADY)
#undef L1_LOADY
    }
    const uint16_t *a = A;
    for (int k = 0; k < kpairs; k++) {
        const __m512i b0 = _mm512_loadu_si512((const void *)(B0 + 32 * k));
        const __m512i b1 = _mm512_loadu_si512((const void *)(B1 + 32 * k));
#define L1_FMA(r)                                                                         \
    if (MR > r) {                                                                         \
        const __m512i a_##r = _mm512_set1_epi32(*(const i32_alias *)(a + (size_t)r * lda)); \
        c0_##r = _mm512_dpbf16_ps(c0_##r, (__m512bh)a_##r, (__m512bh)b0);                 \
        c1_##r = _mm512_dpbf16_ps(c1_##r, (__m512bh)a_##r, (__m512bh)b1);                 \
    }
        L1_FOR_ROWS(L1_FMA)
#undef L1_FMA
        a += 2;
    }
#define L1_STORE(r)                                                    \
    if (MR > r) {                                                      \
        _mm512_mask_storeu_ps(y + (size_t)r * ldy, m0, c0_##r);        \
        _mm512_mask_storeu_ps(y + (size_t)r * ldy + 16, m1, c1_##r);   \
    }
    L1_FOR_ROWS(L1_STORE)
#undef L1_STORE
}

#define L1_MR 12

#define L1_INST(MR)                                                                            \
    static L1_ATTR __attribute__((noinline)) void l1_block_##MR(                               \
        const uint16_t *A, int lda, const uint16_t *B0, const uint16_t *B1, int kpairs,        \
        float *y, int ldy, const float *bias, __mmask16 m0, __mmask16 m1, int acc)             \
    {                                                                                          \
        l1_block(MR, A, lda, B0, B1, kpairs, y, ldy, bias, m0, m1, acc);                       \
    }
L1_INST(12)
L1_INST(8)
L1_INST(4)
L1_INST(2)
L1_INST(1)

static void *scratch_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) abort();
    return p;
}

static L1_ATTR void linear_l1(const float *x, int rows, int in, const uint16_t *packed,
                              int out, const float *bias, float *y, int accumulate)
{
    const int Kp = round_up(in, KALIGN);
    /* rows per converted block: keep the bf16 A block around 256 KiB (L2) */
    int MB = (int)(((size_t)256 << 10) / ((size_t)Kp * 2));
    MB = MB / L1_MR * L1_MR;
    if (MB < L1_MR) MB = L1_MR;
    if (MB > rows) MB = rows;
    uint16_t *abuf = (uint16_t *)scratch_alloc(sizeof(uint16_t) * (size_t)MB * Kp);
    for (int r0 = 0; r0 < rows; r0 += MB) {
        const int nr = rows - r0 < MB ? rows - r0 : MB;
        convert_rows(x + (size_t)r0 * in, nr, in, Kp, abuf, nr);
        for (int n0 = 0; n0 < out; n0 += 32) {
            const uint16_t *B0 = packed + (size_t)(n0 / 16) * Kp * 16;
            const uint16_t *B1 = B0 + (size_t)Kp * 16;
            const __mmask16 m0 = col_mask(out - n0), m1 = col_mask(out - n0 - 16);
            const float *bp = bias ? bias + n0 : NULL;
            float *yb = y + (size_t)r0 * out + n0;
            int r = 0;
            for (; r + 12 <= nr; r += 12)
                l1_block_12(abuf + (size_t)r * Kp, Kp, B0, B1, Kp / 2, yb + (size_t)r * out, out, bp, m0, m1, accumulate);
            if (r + 8 <= nr) {
                l1_block_8(abuf + (size_t)r * Kp, Kp, B0, B1, Kp / 2, yb + (size_t)r * out, out, bp, m0, m1, accumulate);
                r += 8;
            }
            if (r + 4 <= nr) {
                l1_block_4(abuf + (size_t)r * Kp, Kp, B0, B1, Kp / 2, yb + (size_t)r * out, out, bp, m0, m1, accumulate);
                r += 4;
            }
            if (r + 2 <= nr) {
                l1_block_2(abuf + (size_t)r * Kp, Kp, B0, B1, Kp / 2, yb + (size_t)r * out, out, bp, m0, m1, accumulate);
                r += 2;
            }
            if (r < nr)
                l1_block_1(abuf + (size_t)r * Kp, Kp, B0, B1, Kp / 2, yb + (size_t)r * out, out, bp, m0, m1, accumulate);
        }
    }
    free(abuf);
}

/* ------------------------------------------------------------------------ */
/* level 2: AMX-BF16                                                          */
/* Tiles: tmm0..3 = C (2x2 blocks of 16x16 fp32), tmm4,5 = A (16 rows x 32 bf16),
 *        tmm6,7 = B (16 channel pairs x 16 columns x 2).                      */

struct amx_tilecfg {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

#define MEMBAR() __asm__ volatile("" ::: "memory")

/* Epilogue: y[r][0..31] = (acc ? y : 0) + bias + c[r][0..31] for r < nr */
static FORCE_INLINE AVX512_ATTR void
amx_epilogue(const float *c, int nr, float *y, int ldy, const float *bias,
             __mmask16 m0, __mmask16 m1, int acc)
{
    __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();
    if (bias) {
        bb0 = _mm512_maskz_loadu_ps(m0, bias);
        bb1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
    for (int r = 0; r < nr; r++) {
        __m512 v0 = _mm512_add_ps(bb0, _mm512_load_ps(c + r * 32));
        __m512 v1 = _mm512_add_ps(bb1, _mm512_load_ps(c + r * 32 + 16));
        float *yr = y + (size_t)r * ldy;
        if (acc) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, yr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, yr + 16));
        }
        _mm512_mask_storeu_ps(yr, m0, v0);
        _mm512_mask_storeu_ps(yr + 16, m1, v1);
    }
}

/* One 32x32 (mr > 16) or 16x32 output block over the whole K: C tiles stay
 * in tmm0..3, results go to cbuf (32 x 32 floats, row stride 128 bytes). */
static FORCE_INLINE L2_ATTR void
amx_block(const uint16_t *A0, const uint16_t *A1, int two, const uint16_t *B0, const uint16_t *B1,
          int kblocks, float *cbuf)
{
    /* `two` is the same for every k-block: the branches inside the loop are always predicted. */
    _tile_zero(0);
    _tile_zero(1);
    if (two) {
        _tile_zero(2);
        _tile_zero(3);
    }
    for (int kb = 0; kb < kblocks; kb++) {
        _tile_loadd(4, A0 + kb * 512, 64);
        _tile_loadd(6, B0 + kb * 512, 64);
        _tile_loadd(7, B1 + kb * 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (two) {
            _tile_loadd(5, A1 + kb * 512, 64);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, cbuf, 128);
    _tile_stored(1, cbuf + 16, 128);
    if (two) {
        _tile_stored(2, cbuf + 16 * 32, 128);
        _tile_stored(3, cbuf + 16 * 32 + 16, 128);
    }
    MEMBAR();
}

static L2_ATTR void linear_l2(const float *x, int rows, int in, const uint16_t *packed,
                              int out, const float *bias, float *y, int accumulate)
{
    const int Kp = round_up(in, KALIGN);
    const int kblocks = Kp / 32;
    /* Blocking (tuned on Sapphire Rapids, 48 KiB L1d / 2 MiB L2 per core):
     *   KC: K chunk; the C tiles cover a whole chunk, partial sums go through y.
     *   MB: rows converted at a time; the MB x KC bf16 A chunk (~512 KiB) stays in L2.
     *   NG: output columns per group; for each 32-row A slice (L1) we sweep the
     *       group's 32-column B panels (KC x NG bf16 = 384 KiB, L2). */
    const int KC = 768, NG = 256;
    const int kc_eff = Kp < KC ? Kp : KC;
    int MB = (int)(((size_t)512 << 10) / ((size_t)kc_eff * 2));
    MB = MB / 32 * 32;
    if (MB < 32) MB = 32;
    if (MB > round_up(rows, 32)) MB = round_up(rows, 32);
    uint16_t *abuf = (uint16_t *)scratch_alloc(sizeof(uint16_t) * (size_t)MB * Kp);
    float cbuf[32 * 32] __attribute__((aligned(64)));

    struct amx_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    /* ldtilecfg with the whole 64-byte struct as operand (gcc 12's
     * _tile_loadconfig only declares 8 bytes as read). */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg));

    for (int r0 = 0; r0 < rows; r0 += MB) {
        const int nr = rows - r0 < MB ? rows - r0 : MB;
        convert_rows_tiled(x + (size_t)r0 * in, nr, in, Kp, abuf);
        MEMBAR();
        for (int k0 = 0; k0 < Kp; k0 += KC) {
            const int kc = Kp - k0 < KC ? Kp - k0 : KC;
            const int nkb = kc / 32;
            /* first K chunk applies accumulate/bias, later chunks add on top */
            const int acc = k0 == 0 ? accumulate : 1;
            const float *bias_k = k0 == 0 ? bias : NULL;
            for (int g0 = 0; g0 < out; g0 += NG) {
                const int g1 = g0 + NG < out ? g0 + NG : out;
                for (int m = 0; m < nr; m += 32) {
                    const int mr = nr - m < 32 ? nr - m : 32;
                    const uint16_t *A0 = abuf + ((size_t)(m / 16) * kblocks + k0 / 32) * 512;
                    const uint16_t *A1 = A0 + (size_t)kblocks * 512;
                    for (int n0 = g0; n0 < g1; n0 += 32) {
                        const uint16_t *B0 = packed + (size_t)(n0 / 16) * Kp * 16 + (size_t)k0 * 16;
                        const __mmask16 m0 = col_mask(out - n0), m1 = col_mask(out - n0 - 16);
                        const float *bp = bias_k ? bias_k + n0 : NULL;
                        amx_block(A0, A1, mr > 16, B0, B0 + (size_t)Kp * 16, nkb, cbuf);
                        amx_epilogue(cbuf, mr, y + (size_t)(r0 + m) * out + n0, out, bp, m0, m1, acc);
                        MEMBAR();
                    }
                }
            }
        }
    }
    _tile_release();
    free(abuf);
}
#endif /* ALVLM_X86 */

/* ------------------------------------------------------------------------ */

void alvlm_bf16_linear(const float *x, int rows, int in, const uint16_t *packed, int out,
                       const float *bias, float *y, int accumulate)
{
    if (rows <= 0 || out <= 0) return;
    if (in <= 0) { /* degenerate: y = (acc ? y : 0) + bias */
        for (int r = 0; r < rows; r++)
            for (int n = 0; n < out; n++) {
                float *p = y + (size_t)r * out + n;
                *p = (accumulate ? *p : 0.f) + (bias ? bias[n] : 0.f);
            }
        return;
    }
    const int level = alvlm_bf16_level();
#if ALVLM_X86
    if (level >= 2) { linear_l2(x, rows, in, packed, out, bias, y, accumulate); return; }
    if (level == 1) { linear_l1(x, rows, in, packed, out, bias, y, accumulate); return; }
#else
    (void)level;
#endif
    linear_scalar(x, rows, in, packed, out, bias, y, accumulate);
}
