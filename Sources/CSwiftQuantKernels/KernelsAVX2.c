// AVX2 + FMA + F16C: the 16 lanes are two 8-lane registers (lanes 0–7, 8–15).
#pragma STDC FP_CONTRACT OFF
#include "CSwiftQuantKernels.h"
#include "KernelTable.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

// Every function below, the included kernel too, is compiled for this instruction set; the
// dispatcher calls it only on CPUs that have it.
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

typedef struct { __m256 lo, hi; } V;

#define SQK_FN(name) sqk_avx2_##name

static inline __attribute__((always_inline)) V v_zero(void) {
    return (V){_mm256_setzero_ps(), _mm256_setzero_ps()};
}
static inline __attribute__((always_inline)) V v_load(const float *p) {
    return (V){_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
}
static inline __attribute__((always_inline)) V v_load_i8(const int8_t *p) {
    const __m128i q = _mm_loadu_si128((const __m128i *)p);
    return (V){_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)),
               _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(q, q)))};
}
static inline __attribute__((always_inline)) V v_bcast(float s) {
    return (V){_mm256_set1_ps(s), _mm256_set1_ps(s)};
}
static inline __attribute__((always_inline)) V v_mul(V a, V b) {
    return (V){_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)};
}
static inline __attribute__((always_inline)) V v_fma(V a, V b, V c) {
    return (V){_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}
static inline __attribute__((always_inline)) float v_reduce(V a) {
    const __m256 h8 = _mm256_add_ps(a.lo, a.hi);
    const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}
static inline __attribute__((always_inline)) float s_fma(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

// 16 registers: a 2 × 2 tile is 8 accumulators, plus 2 weight vectors × 2 and an activation.
#define SQK_GEMM_ROWS 2
#define SQK_GEMM_BATCH 2
#define SQK_GEMV_ROWS 4
#include "MatrixKernel.h"

uint64_t sqk_avx2_stream_read(const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 128 <= count; i += 128) {
        a = _mm256_xor_si256(a, _mm256_loadu_si256((const __m256i *)(p + i)));
        b = _mm256_xor_si256(b, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
        c = _mm256_xor_si256(c, _mm256_loadu_si256((const __m256i *)(p + i + 64)));
        d = _mm256_xor_si256(d, _mm256_loadu_si256((const __m256i *)(p + i + 96)));
    }
    const __m256i all = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
    uint64_t sum = (uint64_t)_mm256_extract_epi64(all, 0) ^ (uint64_t)_mm256_extract_epi64(all, 1)
                 ^ (uint64_t)_mm256_extract_epi64(all, 2) ^ (uint64_t)_mm256_extract_epi64(all, 3);
    return sum ^ sqk_scalar_stream_read(p + i, count - i);
}

#pragma clang attribute pop
#endif
