// The conversion kernels, written once over a vector of CV_W Float32 lanes and included by each
// instruction-set file (ConvertScalar.c, ConvertAVX2.c, ConvertAVX512.c), which first defines
// SQK_CONVERT_FN(name), CV_W, the types VF (CV_W floats) and VU (CV_W uint32 magnitudes) and
// these primitives, all element-wise:
//   VF cv_load_f16 / cv_load_bf16 / cv_load_f32 / cv_load_f64 (const unsigned char *)
//   void cv_store_f32(float *, VF)            VF cv_splat(float)
//   VU cv_umax_zero(void)   VU cv_umax(VU, VF) (max of |v| bit patterns)   uint32_t cv_umax_reduce(VU)
//   void cv_quantize(int8_t *, VF w, VF scale)  clamp(round_half_even(w / scale), -128, 127)
//   void cv_q8_round(int8_t *, VF x, VF id)     roundf(x × id), half away from zero
//   uint16_t cv_halfmag_max(const unsigned char *, long n)  max of (bits & 0x7fff) of n 16-bit values
//   uint16_t cv_float_to_half(float)            nearest even
// and, for the error metrics, E8: eight Float32 lanes, with e8_load(const float *),
//   e8_load_i8(const int8_t *) (8 codes as floats), e8_splat, e8_add, e8_sub, e8_mul, e8_div,
//   e8_abs, e8_max(a, b) (a > b ? a : b), e8_zero_unless_above(x, m, t) (m <= t ? 0 : x),
//   e8_sum(E8) (lane 0 to 7 from -0) and e8_hmax(E8).
// Tails shorter than CV_W go through a zero-padded copy, so they take the same operations.
#include "ConvertCommon.h"
#include <string.h>

static inline __attribute__((always_inline)) VF SQK_CONVERT_FN(load)(int32_t encoding, const unsigned char *p) {
    switch (encoding) {
    case SQK_ENCODING_F16: return cv_load_f16(p);
    case SQK_ENCODING_BF16: return cv_load_bf16(p);
    case SQK_ENCODING_F64: return cv_load_f64(p);
    default: return cv_load_f32(p);
    }
}

/// CV_W values at `p`, of which only `available` (< CV_W) exist; the rest read as +0.
static inline __attribute__((always_inline)) VF SQK_CONVERT_FN(load_partial)(int32_t encoding, const unsigned char *p,
                                                                            long available) {
    unsigned char padded[CV_W * 8];
    memset(padded, 0, sizeof padded);
    memcpy(padded, p, (size_t)available * (size_t)sqk_cv_width(encoding));
    return SQK_CONVERT_FN(load)(encoding, padded);
}

static inline __attribute__((always_inline)) void SQK_CONVERT_FN(decode_impl)(int32_t encoding, const unsigned char *source,
                                                                             long begin, long end, float *output) {
    const long width = sqk_cv_width(encoding);
    long i = begin;
    for (; i + 2 * CV_W <= end; i += 2 * CV_W) {
        const VF a = SQK_CONVERT_FN(load)(encoding, source + i * width);
        const VF b = SQK_CONVERT_FN(load)(encoding, source + (i + CV_W) * width);
        cv_store_f32(output + i, a);
        cv_store_f32(output + i + CV_W, b);
    }
    for (; i + CV_W <= end; i += CV_W) cv_store_f32(output + i, SQK_CONVERT_FN(load)(encoding, source + i * width));
    if (i < end) {
        float lanes[CV_W];
        cv_store_f32(lanes, SQK_CONVERT_FN(load_partial)(encoding, source + i * width, end - i));
        memcpy(output + i, lanes, (size_t)(end - i) * sizeof(float));
    }
}

void SQK_CONVERT_FN(decode_range)(int32_t encoding, const void *source, long begin, long end, float *output) {
    const unsigned char *bytes = source;
    switch (encoding) {
    case SQK_ENCODING_F16: SQK_CONVERT_FN(decode_impl)(SQK_ENCODING_F16, bytes, begin, end, output); return;
    case SQK_ENCODING_BF16: SQK_CONVERT_FN(decode_impl)(SQK_ENCODING_BF16, bytes, begin, end, output); return;
    case SQK_ENCODING_F64: SQK_CONVERT_FN(decode_impl)(SQK_ENCODING_F64, bytes, begin, end, output); return;
    default:
        if (end > begin) memcpy(output + begin, bytes + 4 * begin, (size_t)(end - begin) * sizeof(float));
        return;
    }
}

static inline __attribute__((always_inline)) uint32_t SQK_CONVERT_FN(absmax_impl)(int32_t encoding,
                                                                                 const unsigned char *source,
                                                                                 long begin, long end) {
    if (end <= begin) return 0;
    if (encoding == SQK_ENCODING_F16) {
        return sqk_cv_bits(sqk_cv_half_to_float(cv_halfmag_max(source + 2 * begin, end - begin)));
    }
    if (encoding == SQK_ENCODING_BF16) return (uint32_t)cv_halfmag_max(source + 2 * begin, end - begin) << 16;
    const long width = sqk_cv_width(encoding);
    VU m0 = cv_umax_zero(), m1 = cv_umax_zero();
    long i = begin;
    for (; i + 2 * CV_W <= end; i += 2 * CV_W) {
        m0 = cv_umax(m0, SQK_CONVERT_FN(load)(encoding, source + i * width));
        m1 = cv_umax(m1, SQK_CONVERT_FN(load)(encoding, source + (i + CV_W) * width));
    }
    for (; i + CV_W <= end; i += CV_W) m0 = cv_umax(m0, SQK_CONVERT_FN(load)(encoding, source + i * width));
    if (i < end) m1 = cv_umax(m1, SQK_CONVERT_FN(load_partial)(encoding, source + i * width, end - i));
    const uint32_t a = cv_umax_reduce(m0), b = cv_umax_reduce(m1);
    return a > b ? a : b;
}

uint32_t SQK_CONVERT_FN(absmax_bits)(int32_t encoding, const void *source, long begin, long end) {
    const unsigned char *bytes = source;
    switch (encoding) {
    case SQK_ENCODING_F16: return SQK_CONVERT_FN(absmax_impl)(SQK_ENCODING_F16, bytes, begin, end);
    case SQK_ENCODING_BF16: return SQK_CONVERT_FN(absmax_impl)(SQK_ENCODING_BF16, bytes, begin, end);
    case SQK_ENCODING_F64: return SQK_CONVERT_FN(absmax_impl)(SQK_ENCODING_F64, bytes, begin, end);
    default: return SQK_CONVERT_FN(absmax_impl)(SQK_ENCODING_F32, bytes, begin, end);
    }
}

static inline __attribute__((always_inline)) void SQK_CONVERT_FN(quantize_impl)(int32_t encoding,
                                                                               const unsigned char *source,
                                                                               long begin, long end, float scale,
                                                                               int8_t *values) {
    const long width = sqk_cv_width(encoding);
    const VF s = cv_splat(scale);
    long i = begin;
    for (; i + CV_W <= end; i += CV_W) cv_quantize(values + i, SQK_CONVERT_FN(load)(encoding, source + i * width), s);
    if (i < end) {
        int8_t codes[CV_W];
        cv_quantize(codes, SQK_CONVERT_FN(load_partial)(encoding, source + i * width, end - i), s);
        memcpy(values + i, codes, (size_t)(end - i));
    }
}

static inline __attribute__((always_inline)) void SQK_CONVERT_FN(blocks_impl)(int32_t encoding,
                                                                             const unsigned char *source,
                                                                             long length, long b0, long b1,
                                                                             int8_t *values, float *scales) {
    for (long b = b0; b < b1; b++) {
        const long start = b * length;
        const uint32_t magnitude = SQK_CONVERT_FN(absmax_impl)(encoding, source, start, start + length);
        if (magnitude >= 0x7f800000u) {
            scales[b] = sqk_cv_float(0x7fc00000u);
            continue;
        }
        float scale = sqk_cv_float(magnitude) / 127.0f;
        if (scale == 0.0f) scale = 1.0f;
        scales[b] = scale;
        SQK_CONVERT_FN(quantize_impl)(encoding, source, start, start + length, scale, values);
    }
}

void SQK_CONVERT_FN(quantize_range)(int32_t encoding, const void *source, long begin, long end, float scale,
                                    int8_t *values) {
    const unsigned char *bytes = source;
    switch (encoding) {
    case SQK_ENCODING_F16: SQK_CONVERT_FN(quantize_impl)(SQK_ENCODING_F16, bytes, begin, end, scale, values); return;
    case SQK_ENCODING_BF16: SQK_CONVERT_FN(quantize_impl)(SQK_ENCODING_BF16, bytes, begin, end, scale, values); return;
    case SQK_ENCODING_F64: SQK_CONVERT_FN(quantize_impl)(SQK_ENCODING_F64, bytes, begin, end, scale, values); return;
    default: SQK_CONVERT_FN(quantize_impl)(SQK_ENCODING_F32, bytes, begin, end, scale, values); return;
    }
}

void SQK_CONVERT_FN(quantize_blocks)(int32_t encoding, const void *source, long length, long b0, long b1,
                                     int8_t *values, float *scales) {
    const unsigned char *bytes = source;
    switch (encoding) {
    case SQK_ENCODING_F16: SQK_CONVERT_FN(blocks_impl)(SQK_ENCODING_F16, bytes, length, b0, b1, values, scales); return;
    case SQK_ENCODING_BF16: SQK_CONVERT_FN(blocks_impl)(SQK_ENCODING_BF16, bytes, length, b0, b1, values, scales); return;
    case SQK_ENCODING_F64: SQK_CONVERT_FN(blocks_impl)(SQK_ENCODING_F64, bytes, length, b0, b1, values, scales); return;
    default: SQK_CONVERT_FN(blocks_impl)(SQK_ENCODING_F32, bytes, length, b0, b1, values, scales); return;
    }
}

long SQK_CONVERT_FN(q8_0_blocks)(const float *source, long b0, long b1, int8_t *codes, long code_stride,
                                 uint8_t *half_scales, long half_stride, float *float_scales) {
    long bad = -1;
    for (long b = b0; b < b1; b++) {
        const unsigned char *x = (const unsigned char *)(source + 32 * b);
        VU m = cv_umax_zero();
        for (int j = 0; j < 32; j += CV_W) m = cv_umax(m, cv_load_f32(x + 4 * j));
        const uint32_t magnitude = cv_umax_reduce(m);
        if (magnitude >= 0x7f800000u) {
            if (bad < 0) bad = b;
            continue;
        }
        const float d = sqk_cv_float(magnitude) / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        if ((sqk_cv_bits(id) & 0x7fffffffu) >= 0x7f800000u) id = 0.0f;
        const VF ids = cv_splat(id);
        int8_t *q = codes + b * code_stride;
        for (int j = 0; j < 32; j += CV_W) cv_q8_round(q + j, cv_load_f32(x + 4 * j), ids);
        const uint16_t half = cv_float_to_half(d);
        if (half_scales) {
            uint8_t *h = half_scales + b * half_stride;
            h[0] = (uint8_t)(half & 0xff);
            h[1] = (uint8_t)(half >> 8);
        }
        if (float_scales) float_scales[b] = sqk_cv_half_to_float(half);
    }
    return bad;
}

/// The eight-lane accumulators of the error metrics (see sqk_error_sums_range).
typedef struct {
    E8 max_error, relative, absolute_error, signal, noise;
} SQK_CONVERT_FN(error_lanes);

static inline __attribute__((always_inline)) void SQK_CONVERT_FN(error_add)(SQK_CONVERT_FN(error_lanes) *lanes, E8 w,
                                                                           E8 restored, E8 threshold) {
    const E8 difference = e8_sub(w, restored);
    const E8 error = e8_abs(difference);
    const E8 magnitude = e8_abs(w);
    lanes->max_error = e8_max(error, lanes->max_error);
    const E8 ratio = e8_zero_unless_above(e8_div(error, magnitude), magnitude, threshold);
    lanes->relative = e8_max(ratio, lanes->relative);
    lanes->absolute_error = e8_add(lanes->absolute_error, error);
    lanes->signal = e8_add(lanes->signal, e8_mul(w, w));
    lanes->noise = e8_add(lanes->noise, e8_mul(difference, difference));
}

static inline __attribute__((always_inline)) void SQK_CONVERT_FN(error_fold)(SQK_CONVERT_FN(error_lanes) *lanes,
                                                                            sqk_error_sums *sums) {
    sums->absolute_error += (double)e8_sum(lanes->absolute_error);
    sums->signal += (double)e8_sum(lanes->signal);
    sums->noise += (double)e8_sum(lanes->noise);
    lanes->absolute_error = e8_splat(0.0f);
    lanes->signal = e8_splat(0.0f);
    lanes->noise = e8_splat(0.0f);
}

static inline __attribute__((always_inline)) void SQK_CONVERT_FN(error_impl)(int32_t encoding,
                                                                            const unsigned char *source,
                                                                            const int8_t *codes, const float *scales,
                                                                            long length, long begin, long end,
                                                                            float threshold, sqk_error_sums *sums) {
    const long width = sqk_cv_width(encoding);
    SQK_CONVERT_FN(error_lanes) lanes;
    lanes.max_error = lanes.relative = lanes.absolute_error = lanes.signal = lanes.noise = e8_splat(0.0f);
    const E8 limit = e8_splat(threshold);
    sqk_error_sums result = {0.0f, 0.0f, 0.0, 0.0, 0.0};
    int steps = 0;
    long index = begin;
    while (index < end) {
        const long block = index / length;
        const long stop = end < (block + 1) * length ? end : (block + 1) * length;
        const E8 scale = e8_splat(scales[block]);
        float w[16];
        while (index + 16 <= stop) {
            for (int j = 0; j < 16; j += CV_W) cv_store_f32(w + j, SQK_CONVERT_FN(load)(encoding, source + (index + j) * width));
            SQK_CONVERT_FN(error_add)(&lanes, e8_load(w), e8_mul(e8_load_i8(codes + index), scale), limit);
            SQK_CONVERT_FN(error_add)(&lanes, e8_load(w + 8), e8_mul(e8_load_i8(codes + index + 8), scale), limit);
            index += 16;
            if (++steps == 64) {
                SQK_CONVERT_FN(error_fold)(&lanes, &result);
                steps = 0;
            }
        }
        if (index < stop) {
            // Zero lanes add nothing: w = 0 and q = 0 give error 0, and 0 is not above the threshold.
            const long available = stop - index;
            int8_t q[16] = {0};
            memcpy(q, codes + index, (size_t)available);
            for (int j = 0; j < 16; j += CV_W) {
                const long here = available - j;
                const VF v = here >= CV_W ? SQK_CONVERT_FN(load)(encoding, source + (index + j) * width)
                           : here > 0    ? SQK_CONVERT_FN(load_partial)(encoding, source + (index + j) * width, here)
                                         : cv_splat(0.0f);
                cv_store_f32(w + j, v);
            }
            SQK_CONVERT_FN(error_add)(&lanes, e8_load(w), e8_mul(e8_load_i8(q), scale), limit);
            SQK_CONVERT_FN(error_add)(&lanes, e8_load(w + 8), e8_mul(e8_load_i8(q + 8), scale), limit);
            index = stop;
        }
    }
    SQK_CONVERT_FN(error_fold)(&lanes, &result);
    result.max_error = e8_hmax(lanes.max_error);
    result.relative = e8_hmax(lanes.relative);
    *sums = result;
}

void SQK_CONVERT_FN(error_sums_range)(int32_t encoding, const void *source, const int8_t *codes, const float *scales,
                                      long length, long begin, long end, float threshold, sqk_error_sums *sums) {
    const unsigned char *bytes = source;
    switch (encoding) {
    case SQK_ENCODING_F16: SQK_CONVERT_FN(error_impl)(SQK_ENCODING_F16, bytes, codes, scales, length, begin, end, threshold, sums); return;
    case SQK_ENCODING_BF16: SQK_CONVERT_FN(error_impl)(SQK_ENCODING_BF16, bytes, codes, scales, length, begin, end, threshold, sums); return;
    case SQK_ENCODING_F64: SQK_CONVERT_FN(error_impl)(SQK_ENCODING_F64, bytes, codes, scales, length, begin, end, threshold, sums); return;
    default: SQK_CONVERT_FN(error_impl)(SQK_ENCODING_F32, bytes, codes, scales, length, begin, end, threshold, sums); return;
    }
}
