// Picks the conversion kernels' variant the way Dispatch.c picks the products': the requested
// one if this CPU runs it, else the CPU's best. VNNI adds nothing here (no integer dot
// products); NEON machines run the portable variant, which the compiler vectorizes.
#include "ConvertTable.h"

static int32_t sqk_convert_variant(int32_t isa) {
    const int32_t best = sqk_cpu_isa();
    const int32_t chosen = sqk_isa_runs_on(isa, best) ? isa : best;
    return chosen == SQK_ISA_AVX512VNNI ? SQK_ISA_AVX512 : chosen;
}

#if defined(__x86_64__)
#define SQK_CONVERT_CALL(isa, name, ...)                                                        \
    switch (sqk_convert_variant(isa)) {                                                         \
    case SQK_ISA_AVX512: return sqk_avx512_convert_##name(__VA_ARGS__);                         \
    case SQK_ISA_AVX2: return sqk_avx2_convert_##name(__VA_ARGS__);                             \
    default: return sqk_scalar_convert_##name(__VA_ARGS__);                                     \
    }
#else
#define SQK_CONVERT_CALL(isa, name, ...) (void)isa; return sqk_scalar_convert_##name(__VA_ARGS__);
#endif

void sqk_decode_range(int32_t isa, int32_t encoding, const void *source, long begin, long end, float *output) {
    SQK_CONVERT_CALL(isa, decode_range, encoding, source, begin, end, output)
}

uint32_t sqk_absmax_bits(int32_t isa, int32_t encoding, const void *source, long begin, long end) {
    SQK_CONVERT_CALL(isa, absmax_bits, encoding, source, begin, end)
}

void sqk_quantize_range(int32_t isa, int32_t encoding, const void *source, long begin, long end, float scale,
                        int8_t *values) {
    SQK_CONVERT_CALL(isa, quantize_range, encoding, source, begin, end, scale, values)
}

void sqk_quantize_blocks(int32_t isa, int32_t encoding, const void *source, long block_length, long block_begin,
                         long block_end, int8_t *values, float *scales) {
    SQK_CONVERT_CALL(isa, quantize_blocks, encoding, source, block_length, block_begin, block_end, values, scales)
}

long sqk_q8_0_blocks(int32_t isa, const float *source, long block_begin, long block_end, int8_t *codes,
                     long code_stride, uint8_t *half_scales, long half_stride, float *float_scales) {
    SQK_CONVERT_CALL(isa, q8_0_blocks, source, block_begin, block_end, codes, code_stride, half_scales, half_stride,
                     float_scales)
}

void sqk_error_sums_range(int32_t isa, int32_t encoding, const void *source, const int8_t *codes,
                          const float *scales, long block_length, long begin, long end, float threshold,
                          sqk_error_sums *sums) {
    SQK_CONVERT_CALL(isa, error_sums_range, encoding, source, codes, scales, block_length, begin, end, threshold, sums)
}
