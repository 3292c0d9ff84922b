// Scalar helpers every conversion variant shares (no instruction-set attributes needed).
#ifndef SQK_CONVERT_COMMON_H
#define SQK_CONVERT_COMMON_H
#include "CSwiftQuantConvert.h"
#include <string.h>

static inline __attribute__((always_inline)) uint32_t sqk_cv_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline __attribute__((always_inline)) float sqk_cv_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline __attribute__((always_inline)) long sqk_cv_width(int32_t encoding) {
    switch (encoding) {
    case SQK_ENCODING_F16:
    case SQK_ENCODING_BF16: return 2;
    case SQK_ENCODING_F64: return 8;
    default: return 4;
    }
}

/// binary16 → Float32, exactly; a NaN comes out quiet with its payload (as F16C's vcvtph2ps).
static inline __attribute__((always_inline)) float sqk_cv_half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exponent = h & 0x7c00u;
    uint32_t bits = (uint32_t)(h & 0x7fffu) << 13;
    if (exponent == 0x7c00u) {
        bits += (uint32_t)(255 - 31) << 23;
        if (bits & 0x007fffffu) bits |= 0x00400000u;
        return sqk_cv_float(bits | sign);
    }
    if (exponent == 0) {
        // Subnormal or zero: exact as (mantissa · 2^-24), built by one exact subtraction.
        const float value = sqk_cv_float(bits + (113u << 23)) - sqk_cv_float(113u << 23);
        return sqk_cv_float(sqk_cv_bits(value) | sign);
    }
    return sqk_cv_float((bits + ((uint32_t)(127 - 15) << 23)) | sign);
}

/// Float32 → binary16, rounded to nearest even (overflow to ±inf, NaN kept quiet), as
/// vcvtps2ph with the nearest mode. The subnormal case rounds by one float addition.
static inline __attribute__((always_inline)) uint16_t sqk_cv_float_to_half_soft(float f) {
    uint32_t bits = sqk_cv_bits(f);
    const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    bits &= 0x7fffffffu;
    if (bits >= 0x47800000u) {  // ≥ 65536 (after rounding it could only be inf), inf or NaN
        if (bits > 0x7f800000u) return sign | 0x7e00u | (uint16_t)((bits >> 13) & 0x3ffu);
        return sign | 0x7c00u;
    }
    if (bits < 0x38800000u) {  // below 2^-14: a subnormal half (or zero)
        const float shifted = sqk_cv_float(bits) + 0.5f;
        return sign | (uint16_t)(sqk_cv_bits(shifted) - 0x3f000000u);
    }
    const uint32_t odd = (bits >> 13) & 1u;
    bits += ((uint32_t)(15 - 127) << 23) + 0xfffu + odd;
    return sign | (uint16_t)(bits >> 13);
}

#endif
