// The blocked W8A8 product: int8 weights repacked once into the layout the integer dot-product
// instructions read, activations quantized per row on the fly, int32 sums, one Float32 rescale
// per output. Integer sums are exact, so every variant gives the same numbers bit for bit.
#ifndef CSWIFTQUANTW8A8_H
#define CSWIFTQUANTW8A8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output columns per panel of the packed layout (one 512-bit register of int32 sums).
#define SQK_W8A8_PANEL 16

/// Bytes of the packed weights of an `[out_features, in_features]` int8 matrix:
/// `ceil(out / 16)` panels × `ceil(in / 4)` steps × 64 bytes.
size_t sqk_w8a8_packed_bytes(long out_features, long in_features);

/// Repacks row-major int8 `weights` into `packed` (`sqk_w8a8_packed_bytes` bytes): panel `p`,
/// step `s`, column `c`, byte `i` holds `W[16p + c][4s + i]`, zero past either edge. Writes
/// `column_sums[o] = Σₖ W[o][k]` for the `ceil(out / 16) × 16` columns (0 for padding).
void sqk_w8a8_pack(const int8_t *weights, long out_features, long in_features, int8_t *packed,
                   int32_t *column_sums);

/// Writes `group_sums[g × P + o] = Σ W[o][k]` over the columns `k` of group `g` (`group` columns
/// each, the last one possibly shorter) for the `P = ceil(out / 16) × 16` columns (0 for padding).
void sqk_w8a8_group_sums(const int8_t *weights, long out_features, long in_features, long group, int32_t *group_sums);

/// Quantizes rows `row_begin..<row_end` of a row-major `[rows, columns]` Float32 matrix symmetric
/// per group of `group` columns of each row (`group ≥ columns`: per row; the last group may be
/// shorter), exactly as the reference quantizer: `scale = max|x| / 127` (1 when 0),
/// `q = clamp(round_half_even(x / scale), -128, 127)`. Writes `q + 128` as unsigned bytes to
/// `codes` (rows of `ceil(columns / 4) × 4` bytes, the padding set to 128) and the scales,
/// `[rows, ceil(columns / group)]`. Returns -1, or the first row holding a NaN or infinite value
/// (its codes are then unspecified).
long sqk_w8a8_quantize_rows(int32_t isa, const float *input, long columns, long group, uint8_t *codes,
                            float *scales, long row_begin, long row_end);

/// One product on packed weights. Per-row activation scales (`group_size == 0`):
/// `output = ((float)(x_q · w_q) × input_scale) × weight_scale + bias`. Per-group activation scales:
/// `sum = fma((float)(x_q · w_q over group g), input_scale[g], sum)` for g in order from 0, then
/// `output = sum × weight_scale + bias`. Every x_q · w_q is exact in int32.
typedef struct {
    /// From `sqk_w8a8_pack`.
    const int8_t *packed;
    const int32_t *column_sums;
    /// `SQK_SCALES_TENSOR` (`tensor_scale`) or `SQK_SCALES_ROW` (`weight_scales`, `out_features` values).
    int32_t scale_kind;
    const float *weight_scales;
    float tensor_scale;
    /// From `sqk_w8a8_quantize_rows`: `[batch, ceil(in / 4) × 4]` bytes and `[batch, groups]` scales.
    const uint8_t *input;
    const float *input_scales;
    /// Columns per activation scale, a positive multiple of 4, or 0 for one scale per row.
    long group_size;
    /// From `sqk_w8a8_group_sums` when `group_size > 0`.
    const int32_t *group_sums;
    /// Row-major `[batch, out_features]`.
    float *output;
    /// `out_features` values, or NULL.
    const float *bias;
    long batch;
    long in_features;
    long out_features;
} sqk_w8a8_packed_product;

/// Computes the output columns of panels `panel_begin..<panel_end` (16 columns each; the last
/// may be partial) for every batch row. Panels are independent: any split gives the same numbers.
void sqk_w8a8_packed_panels(int32_t isa, const sqk_w8a8_packed_product *product, long panel_begin, long panel_end);

#ifdef __cplusplus
}
#endif

#endif
