// W8A8 products on x86: int8 weights × int8 activations (offset to unsigned), int32 sums.
// Integer sums are exact, so these kernels may add in any order and still match the scalar one.
#include "CSwiftQuantKernels.h"
#include "KernelTable.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define SQK_INLINE static inline __attribute__((always_inline))

// AVX2 (also used by AVX-512 CPUs without VNNI): 16 columns at a time widened to 16 bits, then
// `vpmaddwd` (pairs of 16-bit products into int32, exact: |x·w| ≤ 255 × 128).
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

SQK_INLINE int32_t sqk_avx2_hsum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

SQK_INLINE void sqk_avx2_w8a8_tile(const sqk_w8a8 *p, long o, long b, int R, int B) {
    const long n = p->in_features, whole = n / 16 * 16;
    const int8_t *w[2];
    const uint8_t *x[2];
    __m256i acc[2][2], sums[2];
    for (int r = 0; r < R; r++) {
        w[r] = p->weights + (o + r) * n;
        sums[r] = _mm256_setzero_si256();
        for (int j = 0; j < B; j++) acc[r][j] = _mm256_setzero_si256();
    }
    for (int j = 0; j < B; j++) x[j] = p->input + (b + j) * n;
    const __m256i ones = _mm256_set1_epi16(1);
    for (long k = 0; k < whole; k += 16) {
        __m256i wv[2];
        for (int r = 0; r < R; r++) {
            wv[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w[r] + k)));
            sums[r] = _mm256_add_epi32(sums[r], _mm256_madd_epi16(wv[r], ones));
        }
        for (int j = 0; j < B; j++) {
            const __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x[j] + k)));
            for (int r = 0; r < R; r++) acc[r][j] = _mm256_add_epi32(acc[r][j], _mm256_madd_epi16(wv[r], xv));
        }
    }
    for (int r = 0; r < R; r++) {
        int32_t row_sum = sqk_avx2_hsum(sums[r]);
        for (long k = whole; k < n; k++) row_sum += w[r][k];
        for (int j = 0; j < B; j++) {
            int32_t dot = sqk_avx2_hsum(acc[r][j]);
            for (long k = whole; k < n; k++) dot += (int32_t)x[j][k] * w[r][k];
            p->output[(b + j) * p->out_features + o + r] = sqk_w8a8_finish(p, o + r, b + j, dot - 128 * row_sum);
        }
    }
}

void sqk_avx2_w8a8_rows(const sqk_w8a8 *p, long o0, long o1) {
    long o = o0;
    for (; o + 2 <= o1; o += 2) {
        long b = 0;
        for (; b + 2 <= p->batch; b += 2) sqk_avx2_w8a8_tile(p, o, b, 2, 2);
        for (; b < p->batch; b++) sqk_avx2_w8a8_tile(p, o, b, 2, 1);
    }
    for (; o < o1; o++) {
        for (long b = 0; b < p->batch; b++) sqk_avx2_w8a8_tile(p, o, b, 1, 1);
    }
}

#pragma clang attribute pop

// AVX-512 VNNI: `vpdpbusd` multiplies 64 unsigned activation bytes by 64 signed weight bytes and
// adds each group of four products into one of 16 int32 lanes. The column tail is a masked load
// (zeros add nothing).
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)

SQK_INLINE __mmask64 sqk_vnni_mask(long remaining) {
    return remaining >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << remaining) - 1);
}

/// Σ w over a row, for removing the +128 offset of the activations.
SQK_INLINE int32_t sqk_vnni_row_sum(const int8_t *w, long n) {
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i sum = _mm512_setzero_si512();
    for (long k = 0; k < n; k += 64) sum = _mm512_dpbusd_epi32(sum, ones, _mm512_maskz_loadu_epi8(sqk_vnni_mask(n - k), w + k));
    return _mm512_reduce_add_epi32(sum);
}

SQK_INLINE void sqk_vnni_w8a8_tile(const sqk_w8a8 *p, long o, long b, int R, int B, const int32_t *row_sums) {
    const long n = p->in_features;
    const int8_t *w[4];
    const uint8_t *x[4];
    __m512i acc[4][4];
    for (int r = 0; r < R; r++) {
        w[r] = p->weights + (o + r) * n;
        for (int j = 0; j < B; j++) acc[r][j] = _mm512_setzero_si512();
    }
    for (int j = 0; j < B; j++) x[j] = p->input + (b + j) * n;
    for (long k = 0; k < n; k += 64) {
        const __mmask64 mask = sqk_vnni_mask(n - k);
        __m512i wv[4];
        for (int r = 0; r < R; r++) wv[r] = _mm512_maskz_loadu_epi8(mask, w[r] + k);
        for (int j = 0; j < B; j++) {
            const __m512i xv = _mm512_maskz_loadu_epi8(mask, x[j] + k);
            for (int r = 0; r < R; r++) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], xv, wv[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        for (int j = 0; j < B; j++) {
            const int32_t dot = _mm512_reduce_add_epi32(acc[r][j]) - 128 * row_sums[r];
            p->output[(b + j) * p->out_features + o + r] = sqk_w8a8_finish(p, o + r, b + j, dot);
        }
    }
}

void sqk_vnni_w8a8_rows(const sqk_w8a8 *p, long o0, long o1) {
    const long n = p->in_features;
    // Activation blocks of about 1 MiB stay in cache while the row tiles pass over them.
    long block = (1L << 20) / n / 4 * 4;
    if (block < 4) block = 4;
    for (long b0 = 0; b0 < p->batch; b0 += block) {
        const long b1 = b0 + block < p->batch ? b0 + block : p->batch;
        long o = o0;
        for (; o + 4 <= o1; o += 4) {
            int32_t sums[4];
            for (int r = 0; r < 4; r++) sums[r] = sqk_vnni_row_sum(p->weights + (o + r) * n, n);
            long b = b0;
            for (; b + 4 <= b1; b += 4) sqk_vnni_w8a8_tile(p, o, b, 4, 4, sums);
            for (; b < b1; b++) sqk_vnni_w8a8_tile(p, o, b, 4, 1, sums);
        }
        for (; o < o1; o++) {
            int32_t sum = sqk_vnni_row_sum(p->weights + o * n, n);
            for (long b = b0; b < b1; b++) sqk_vnni_w8a8_tile(p, o, b, 1, 1, &sum);
        }
    }
}
#pragma clang attribute pop
#endif
