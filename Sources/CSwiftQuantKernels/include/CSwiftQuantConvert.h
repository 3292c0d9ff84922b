// Conversion-side kernels (float decoding, max|w|, symmetric INT8 and ggml Q8_0 quantization),
// compiled once per instruction set like the matrix products and chosen by the same `isa`.
//
// Every variant gives the same bits: each kernel is element-wise (IEEE division, multiply,
// clamp, round) or an order-free maximum over magnitude bit patterns, so vector width changes
// only how many elements one instruction handles. Rounding uses the default floating-point
// environment (to nearest, ties to even; no flush-to-zero). Every `*_range`/`*_blocks` call is
// single-threaded; the caller splits the work.
#ifndef CSWIFTQUANTCONVERT_H
#define CSWIFTQUANTCONVERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Little-endian encodings of the source values.
typedef enum {
    SQK_ENCODING_F16 = 0,
    SQK_ENCODING_BF16 = 1,
    SQK_ENCODING_F32 = 2,
    SQK_ENCODING_F64 = 3,
} sqk_encoding;

/// Decodes values `begin..<end` of `source` (need not be aligned) into `output[begin..<end]` as
/// Float32: exact for binary16 and bfloat16 (subnormals, ±0, ±inf kept; a signaling binary16
/// NaN comes out quiet, payload kept), Float64 rounded to nearest even.
void sqk_decode_range(int32_t isa, int32_t encoding, const void *source, long begin, long end, float *output);

/// The bit pattern of max |w| over values `begin..<end`, decoded to Float32 (sign cleared): a
/// NaN pattern when the range holds a NaN, +inf's when it holds an infinity, 0 when empty.
uint32_t sqk_absmax_bits(int32_t isa, int32_t encoding, const void *source, long begin, long end);

/// `values[i] = clamp(round_half_even(w[i] / scale), -128, 127)` for `i` in `begin..<end`,
/// with `w[i]` decoded to Float32 and finite (the caller has checked).
void sqk_quantize_range(int32_t isa, int32_t encoding, const void *source, long begin, long end, float scale,
                        int8_t *values);

/// Symmetric INT8 per block for blocks `block_begin..<block_end` of `block_length` consecutive
/// values: `scales[b] = max|w| / 127` (0 becomes 1) and the block's codes as
/// `sqk_quantize_range`. A block holding a NaN or infinity gets a NaN scale and its codes are
/// left unwritten.
void sqk_quantize_blocks(int32_t isa, int32_t encoding, const void *source, long block_length, long block_begin,
                         long block_end, int8_t *values, float *scales);

/// ggml Q8_0 (`quantize_row_q8_0_ref`) of the 32-value Float32 blocks `block_begin..<block_end`
/// of `source`: `d = max|x| / 127`, `id = d != 0 ? 1/d : 0` (0 when `1/d` overflows),
/// `q = roundf(x × id)` (half away from zero). Block `b`'s 32 codes go to
/// `codes + b × code_stride`; its fp16 `d` (nearest even, little-endian) to
/// `half_scales + b × half_stride` unless NULL, and that fp16 widened to Float32 to
/// `float_scales[b]` unless NULL. Returns the first block holding a NaN or infinity (left
/// unwritten; later blocks are still written), or -1.
long sqk_q8_0_blocks(int32_t isa, const float *source, long block_begin, long block_end, int8_t *codes,
                     long code_stride, uint8_t *half_scales, long half_stride, float *float_scales);

/// Partial sums of the quantization error metrics over one range of values.
typedef struct {
    float max_error;
    float relative;
    double absolute_error;
    double signal;
    double noise;
} sqk_error_sums;

/// The error sums of values `begin..<end` (finite originals `w`, decoded) against
/// `codes[i] × scales[i / block_length]`. The order of operations is fixed, whatever the
/// variant: per step of 16 values, two runs of 8 lanes (low then high) each update
/// `max(|d|)`, `max(|d| / |w| for |w| > threshold)` and Float32 lane sums of `|d|`, `w²`, `d²`
/// (`d = w − restored`; separate multiply and add); a block's last partial step is zero-padded;
/// after every 64 whole steps and at the end, each lane sum is added up lane 0 to 7 from −0 in
/// Float32 and added to its Double total.
void sqk_error_sums_range(int32_t isa, int32_t encoding, const void *source, const int8_t *codes,
                          const float *scales, long block_length, long begin, long end, float threshold,
                          sqk_error_sums *sums);

#ifdef __cplusplus
}
#endif

#endif
