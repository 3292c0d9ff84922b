// AVX-512 F + BW + VL: the 16 lanes are one 512-bit register. The VNNI variant uses these
// kernels for Float32 activations (integer dot products need integer activations).
#pragma STDC FP_CONTRACT OFF
#include "CSwiftQuantKernels.h"
#include "KernelTable.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

// Every function below, the included kernel too, is compiled for this instruction set; the
// dispatcher calls it only on CPUs (and OSes, which must save the zmm state) that have it.
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)

typedef __m512 V;

#define SQK_FN(name) sqk_avx512_##name

static inline __attribute__((always_inline)) V v_zero(void) { return _mm512_setzero_ps(); }
static inline __attribute__((always_inline)) V v_load(const float *p) { return _mm512_loadu_ps(p); }
static inline __attribute__((always_inline)) V v_load_i8(const int8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}
static inline __attribute__((always_inline)) V v_bcast(float s) { return _mm512_set1_ps(s); }
static inline __attribute__((always_inline)) V v_mul(V a, V b) { return _mm512_mul_ps(a, b); }
static inline __attribute__((always_inline)) V v_fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
static inline __attribute__((always_inline)) float v_reduce(V a) {
    const __m256 lo = _mm512_castps512_ps256(a);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
    const __m256 h8 = _mm256_add_ps(lo, hi);
    const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}
static inline __attribute__((always_inline)) float s_fma(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

// 32 registers: a 4 × 4 tile is 16 accumulators, 4 weight vectors and an activation.
#define SQK_GEMM_ROWS 4
#define SQK_GEMM_BATCH 4
#define SQK_GEMV_ROWS 4
#include "MatrixKernel.h"

uint64_t sqk_avx512_stream_read(const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 256 <= count; i += 256) {
        a = _mm512_xor_si512(a, _mm512_loadu_si512(p + i));
        b = _mm512_xor_si512(b, _mm512_loadu_si512(p + i + 64));
        c = _mm512_xor_si512(c, _mm512_loadu_si512(p + i + 128));
        d = _mm512_xor_si512(d, _mm512_loadu_si512(p + i + 192));
    }
    const __m512i all = _mm512_xor_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(c, d));
    uint64_t lanes[8];
    _mm512_storeu_si512(lanes, all);
    uint64_t sum = 0;
    for (int j = 0; j < 8; j++) sum ^= lanes[j];
    return sum ^ sqk_scalar_stream_read(p + i, count - i);
}

#pragma clang attribute pop
#endif
