// The conversion kernels for AVX2 + F16C: 8 lanes per 256-bit register, binary16 through
// vcvtph2ps/vcvtps2ph. The dispatcher calls them only where the CPU has these extensions.
#pragma STDC FP_CONTRACT OFF
#include "ConvertTable.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

typedef __m256 VF;
typedef __m256i VU;
#define CV_W 8
#define SQK_CONVERT_FN(name) sqk_avx2_convert_##name

static inline __attribute__((always_inline)) VF cv_load_f16(const unsigned char *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
static inline __attribute__((always_inline)) VF cv_load_bf16(const unsigned char *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline __attribute__((always_inline)) VF cv_load_f32(const unsigned char *p) {
    return _mm256_loadu_ps((const float *)p);
}
static inline __attribute__((always_inline)) VF cv_load_f64(const unsigned char *p) {
    const __m128 low = _mm256_cvtpd_ps(_mm256_loadu_pd((const double *)p));
    const __m128 high = _mm256_cvtpd_ps(_mm256_loadu_pd((const double *)(p + 32)));
    return _mm256_set_m128(high, low);
}
static inline __attribute__((always_inline)) void cv_store_f32(float *p, VF v) { _mm256_storeu_ps(p, v); }
static inline __attribute__((always_inline)) VF cv_splat(float s) { return _mm256_set1_ps(s); }
static inline __attribute__((always_inline)) VU cv_umax_zero(void) { return _mm256_setzero_si256(); }
static inline __attribute__((always_inline)) VU cv_umax(VU m, VF v) {
    return _mm256_max_epu32(m, _mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7fffffff)));
}
static inline __attribute__((always_inline)) uint32_t cv_umax_reduce(VU m) {
    __m128i x = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    x = _mm_max_epu32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
    x = _mm_max_epu32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(x);
}
/// Eight codes: IEEE division, clamp (the bounds are integers, so clamping first changes no
/// rounding), vcvtps2dq with the default nearest-even mode, then packing (no value saturates).
static inline __attribute__((always_inline)) void cv_quantize(int8_t *out, VF w, VF scale) {
    VF q = _mm256_div_ps(w, scale);
    q = _mm256_min_ps(q, _mm256_set1_ps(127.0f));
    q = _mm256_max_ps(q, _mm256_set1_ps(-128.0f));
    const __m256i n = _mm256_cvtps_epi32(q);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(n), _mm256_extracti128_si256(n, 1));
    _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(words, words));
}
/// roundf of x × id: nearest-even first, then a tie that went toward zero steps away from it
/// (x × id − nearest is exact).
static inline __attribute__((always_inline)) void cv_q8_round(int8_t *out, VF x, VF id) {
    const VF r = _mm256_mul_ps(x, id);
    __m256i n = _mm256_cvtps_epi32(r);
    const VF difference = _mm256_sub_ps(r, _mm256_cvtepi32_ps(n));
    const VF zero = _mm256_setzero_ps();
    const VF up = _mm256_and_ps(_mm256_cmp_ps(difference, _mm256_set1_ps(0.5f), _CMP_EQ_OQ), _mm256_cmp_ps(r, zero, _CMP_GT_OQ));
    const VF down = _mm256_and_ps(_mm256_cmp_ps(difference, _mm256_set1_ps(-0.5f), _CMP_EQ_OQ), _mm256_cmp_ps(r, zero, _CMP_LT_OQ));
    n = _mm256_add_epi32(_mm256_sub_epi32(n, _mm256_castps_si256(up)), _mm256_castps_si256(down));
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(n), _mm256_extracti128_si256(n, 1));
    _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(words, words));
}
static inline __attribute__((always_inline)) uint16_t cv_halfmag_max(const unsigned char *p, long n) {
    const __m256i mask = _mm256_set1_epi16(0x7fff);
    __m256i m0 = _mm256_setzero_si256(), m1 = m0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm256_max_epu16(m0, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(p + 2 * i)), mask));
        m1 = _mm256_max_epu16(m1, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(p + 2 * i + 32)), mask));
    }
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_epu16(m0, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(p + 2 * i)), mask));
    }
    m0 = _mm256_max_epu16(m0, m1);
    __m128i x = _mm_max_epu16(_mm256_castsi256_si128(m0), _mm256_extracti128_si256(m0, 1));
    // minpos of the complement finds the maximum.
    x = _mm_minpos_epu16(_mm_xor_si128(x, _mm_set1_epi16(-1)));
    uint16_t m = (uint16_t)~_mm_extract_epi16(x, 0);
    for (; i < n; i++) {
        const uint16_t h = (uint16_t)((p[2 * i] | (uint16_t)p[2 * i + 1] << 8) & 0x7fffu);
        m = h > m ? h : m;
    }
    return m;
}
static inline __attribute__((always_inline)) uint16_t cv_float_to_half(float f) {
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}

#include "ConvertE8AVX.h"

#include "ConvertKernel.h"

#pragma clang attribute pop
#endif
