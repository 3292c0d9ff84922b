// The 8-lane Float32 operations (E8) of the error sums, shared by the AVX2 and AVX-512 variants:
// the sums keep the Swift code's 8-lane order on both (ConvertKernel.h), so AVX-512 uses the
// 256-bit forms too. Included after each variant's `#pragma clang attribute push(target(...))`.
#ifndef SWIFTQUANT_CONVERT_E8_AVX_H
#define SWIFTQUANT_CONVERT_E8_AVX_H

typedef __m256 E8;
static inline __attribute__((always_inline)) E8 e8_load(const float *p) { return _mm256_loadu_ps(p); }
static inline __attribute__((always_inline)) E8 e8_load_i8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
static inline __attribute__((always_inline)) E8 e8_splat(float s) { return _mm256_set1_ps(s); }
static inline __attribute__((always_inline)) E8 e8_add(E8 a, E8 b) { return _mm256_add_ps(a, b); }
static inline __attribute__((always_inline)) E8 e8_sub(E8 a, E8 b) { return _mm256_sub_ps(a, b); }
static inline __attribute__((always_inline)) E8 e8_mul(E8 a, E8 b) { return _mm256_mul_ps(a, b); }
static inline __attribute__((always_inline)) E8 e8_div(E8 a, E8 b) { return _mm256_div_ps(a, b); }
static inline __attribute__((always_inline)) E8 e8_abs(E8 a) {
    return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}
/// vmaxps returns its first operand when it is greater, else the second: a > b ? a : b.
static inline __attribute__((always_inline)) E8 e8_max(E8 a, E8 b) { return _mm256_max_ps(a, b); }
static inline __attribute__((always_inline)) E8 e8_zero_unless_above(E8 x, E8 m, E8 t) {
    return _mm256_blendv_ps(x, _mm256_setzero_ps(), _mm256_cmp_ps(m, t, _CMP_LE_OQ));
}
static inline __attribute__((always_inline)) float e8_sum(E8 a) {
    float lanes[8];
    _mm256_storeu_ps(lanes, a);
    float s = -0.0f;
    for (int l = 0; l < 8; l++) s = s + lanes[l];
    return s;
}
static inline __attribute__((always_inline)) float e8_hmax(E8 a) {
    float lanes[8];
    _mm256_storeu_ps(lanes, a);
    float m = 0.0f;
    for (int l = 0; l < 8; l++) m = lanes[l] > m ? lanes[l] : m;
    return m;
}

#endif
