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

/// Quantizes rows `row_begin..<row_end` of a row-major `[rows, columns]` Float32 matrix symmetric
/// per row, exactly as the reference quantizer: `scale = max|x| / 127` (1 when 0),
/// `q = clamp(round_half_even(x / scale), -128, 127)`. Writes `q + 128` as unsigned bytes to
/// `codes` (rows of `ceil(columns / 4) × 4` bytes, the padding set to 128) and the scales.
/// Returns -1, or the first row holding a NaN or infinite value (its codes are then unspecified).
long sqk_w8a8_quantize_rows(int32_t isa, const float *input, long columns, uint8_t *codes, float *scales,
                            long row_begin, long row_end);

/// One product `output = ((float)(x_q · w_q) × input_scale) × weight_scale + bias` on packed weights.
typedef struct {
    /// From `sqk_w8a8_pack`.
    const int8_t *packed;
    const int32_t *column_sums;
    /// `SQK_SCALES_TENSOR` (`tensor_scale`) or `SQK_SCALES_ROW` (`weight_scales`, `out_features` values).
    int32_t scale_kind;
    const float *weight_scales;
    float tensor_scale;
    /// From `sqk_w8a8_quantize_rows`: `[batch, ceil(in / 4) × 4]` bytes and `batch` scales.
    const uint8_t *input;
    const float *input_scales;
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
