// The conversion kernels for AVX-512 F + BW (+ VL): 16 lanes per 512-bit register; binary16
// through the 512-bit vcvtph2ps, codes narrowed with vpmovdb. The dispatcher calls them only on
// CPUs (and OSes, which must save the zmm state) that have these extensions.
#pragma STDC FP_CONTRACT OFF
#include "ConvertTable.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)

typedef __m512 VF;
typedef __m512i VU;
#define CV_W 16
#define SQK_CONVERT_FN(name) sqk_avx512_convert_##name

static inline __attribute__((always_inline)) VF cv_load_f16(const unsigned char *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
static inline __attribute__((always_inline)) VF cv_load_bf16(const unsigned char *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
static inline __attribute__((always_inline)) VF cv_load_f32(const unsigned char *p) {
    return _mm512_loadu_ps((const float *)p);
}
static inline __attribute__((always_inline)) VF cv_load_f64(const unsigned char *p) {
    const __m256 low = _mm512_cvtpd_ps(_mm512_loadu_pd((const double *)p));
    const __m256 high = _mm512_cvtpd_ps(_mm512_loadu_pd((const double *)(p + 64)));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(low)), _mm256_castps_pd(high), 1));
}
static inline __attribute__((always_inline)) void cv_store_f32(float *p, VF v) { _mm512_storeu_ps(p, v); }
static inline __attribute__((always_inline)) VF cv_splat(float s) { return _mm512_set1_ps(s); }
static inline __attribute__((always_inline)) VU cv_umax_zero(void) { return _mm512_setzero_si512(); }
static inline __attribute__((always_inline)) VU cv_umax(VU m, VF v) {
    return _mm512_max_epu32(m, _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
}
static inline __attribute__((always_inline)) uint32_t cv_umax_reduce(VU m) {
    __m256i y = _mm256_max_epu32(_mm512_castsi512_si256(m), _mm512_extracti64x4_epi64(m, 1));
    __m128i x = _mm_max_epu32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
    x = _mm_max_epu32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
    x = _mm_max_epu32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(x);
}
/// Sixteen codes: IEEE division, clamp, vcvtps2dq with the default nearest-even mode, vpmovdb.
static inline __attribute__((always_inline)) void cv_quantize(int8_t *out, VF w, VF scale) {
    VF q = _mm512_div_ps(w, scale);
    q = _mm512_min_ps(q, _mm512_set1_ps(127.0f));
    q = _mm512_max_ps(q, _mm512_set1_ps(-128.0f));
    _mm_storeu_si128((__m128i *)out, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q)));
}
/// roundf of x × id: nearest-even first, then a tie that went toward zero steps away from it.
static inline __attribute__((always_inline)) void cv_q8_round(int8_t *out, VF x, VF id) {
    const VF r = _mm512_mul_ps(x, id);
    __m512i n = _mm512_cvtps_epi32(r);
    const VF difference = _mm512_sub_ps(r, _mm512_cvtepi32_ps(n));
    const VF zero = _mm512_setzero_ps();
    const __mmask16 up = _mm512_cmp_ps_mask(difference, _mm512_set1_ps(0.5f), _CMP_EQ_OQ) &
                         _mm512_cmp_ps_mask(r, zero, _CMP_GT_OQ);
    const __mmask16 down = _mm512_cmp_ps_mask(difference, _mm512_set1_ps(-0.5f), _CMP_EQ_OQ) &
                           _mm512_cmp_ps_mask(r, zero, _CMP_LT_OQ);
    n = _mm512_mask_add_epi32(n, up, n, _mm512_set1_epi32(1));
    n = _mm512_mask_sub_epi32(n, down, n, _mm512_set1_epi32(1));
    _mm_storeu_si128((__m128i *)out, _mm512_cvtepi32_epi8(n));
}
static inline __attribute__((always_inline)) uint16_t cv_halfmag_max(const unsigned char *p, long n) {
    const __m512i mask = _mm512_set1_epi16(0x7fff);
    __m512i m0 = _mm512_setzero_si512(), m1 = m0;
    long i = 0;
    for (; i + 64 <= n; i += 64) {
        m0 = _mm512_max_epu16(m0, _mm512_and_si512(_mm512_loadu_si512(p + 2 * i), mask));
        m1 = _mm512_max_epu16(m1, _mm512_and_si512(_mm512_loadu_si512(p + 2 * i + 64), mask));
    }
    if (i + 32 <= n) {
        m0 = _mm512_max_epu16(m0, _mm512_and_si512(_mm512_loadu_si512(p + 2 * i), mask));
        i += 32;
    }
    if (i < n) {
        // The last < 32 values through a masked load (masked-off lanes read as 0).
        const __mmask32 lanes = (__mmask32)((1u << (n - i)) - 1u);
        m1 = _mm512_max_epu16(m1, _mm512_and_si512(_mm512_maskz_loadu_epi16(lanes, p + 2 * i), mask));
    }
    m0 = _mm512_max_epu16(m0, m1);
    const __m256i y = _mm256_max_epu16(_mm512_castsi512_si256(m0), _mm512_extracti64x4_epi64(m0, 1));
    __m128i x = _mm_max_epu16(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
    x = _mm_minpos_epu16(_mm_xor_si128(x, _mm_set1_epi16(-1)));
    return (uint16_t)~_mm_extract_epi16(x, 0);
}
static inline __attribute__((always_inline)) uint16_t cv_float_to_half(float f) {
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}

#include "ConvertE8AVX.h"

#include "ConvertKernel.h"

#pragma clang attribute pop
#endif
