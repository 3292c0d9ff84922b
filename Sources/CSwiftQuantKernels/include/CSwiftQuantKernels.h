// Hot inference micro-kernels, compiled once per instruction set and chosen at run time.
//
// Every variant of a kernel computes the same numbers bit for bit: each dot product is
// accumulated in 16 lanes (lane j takes columns k ≡ j mod 16 of every whole 16-column chunk)
// with fused multiply-adds, the lanes are summed by one fixed tree, and the columns past the
// last whole chunk are added one at a time with fused multiply-adds. Group scales whose group
// is a multiple of 16 columns scale each group's 16 lanes with one more fused multiply-add into
// the running lanes; other group sizes scale each weight before its multiply-add. Wider or narrower vector
// units only change how those 16 lanes are laid out in registers, never the order of operations.
#ifndef CSWIFTQUANTKERNELS_H
#define CSWIFTQUANTKERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "CSwiftQuantBlocks.h"
#include "CSwiftQuantConvert.h"
#include "CSwiftQuantW8A8.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set variants. Higher values are preferred; a variant runs only where the CPU
/// (and the OS, for the wider register state) supports it.
typedef enum {
    SQK_ISA_SCALAR = 0,
    SQK_ISA_NEON = 1,
    SQK_ISA_AVX2 = 2,
    SQK_ISA_AVX512 = 3,
    SQK_ISA_AVX512VNNI = 4,
} sqk_isa;

/// How the weights are stored.
typedef enum {
    SQK_WEIGHTS_F32 = 0,
    SQK_WEIGHTS_I8 = 1,
} sqk_weights;

/// How the scales of int8 weights apply.
typedef enum {
    SQK_SCALES_NONE = 0,
    SQK_SCALES_TENSOR = 1,
    SQK_SCALES_ROW = 2,
    SQK_SCALES_GROUP = 3,
} sqk_scales;

/// One product `output = input · (W × scales)ᵀ + bias`.
typedef struct {
    /// Row-major `[out_features, in_features]`, Float32 or int8 (`weight_kind`); need not be aligned.
    /// Scales apply to int8 weights only; Float32 weights take `SQK_SCALES_NONE`.
    const void *weights;
    int32_t weight_kind;
    int32_t scale_kind;
    /// Per row: `out_features` values; per group: `[out_features, in_features / group_size]`.
    const float *scales;
    float tensor_scale;
    /// Columns per group scale; divides `in_features`.
    long group_size;
    /// Row-major `[batch, in_features]`.
    const float *input;
    /// Row-major `[batch, out_features]`.
    float *output;
    /// `out_features` values, or NULL.
    const float *bias;
    long batch;
    long in_features;
    long out_features;
} sqk_matmul;


/// The best variant this CPU and OS support.
int32_t sqk_cpu_isa(void);

/// The variant this process uses: the CPU's best, or a lower one that `SWIFTQUANT_ISA`
/// (`avx512vnni`, `avx512`, `avx2`, `neon`, `scalar`) asks for. Chosen once.
int32_t sqk_active_isa(void);

/// The variant a request name selects on a CPU whose best variant is `cpu_best`: the requested
/// one when the CPU supports it, else `cpu_best` (a request can lower the variant, never raise it).
int32_t sqk_resolve_isa(const char *request, int32_t cpu_best);

/// Whether `isa` runs on a CPU whose best variant is `cpu_best`.
int32_t sqk_isa_runs_on(int32_t isa, int32_t cpu_best);

/// The variant's name as `SWIFTQUANT_ISA` spells it.
const char *sqk_isa_name(int32_t isa);

/// Computes output rows `row_begin..<row_end` (all batch rows) with variant `isa`, or with the
/// CPU's best when this CPU cannot run `isa`. Rows are independent: any split gives the same numbers.
void sqk_matmul_rows(int32_t isa, const sqk_matmul *product, long row_begin, long row_end);

/// Reads `count` bytes with the widest loads of variant `isa` and returns a checksum of them:
/// the memory-bandwidth baseline the matrix-vector product is measured against.
uint64_t sqk_stream_read(int32_t isa, const void *bytes, size_t count);

#ifdef __cplusplus
}
#endif

#endif
