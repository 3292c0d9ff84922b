// The conversion kernels' variants, each defined in its own file; ConvertDispatch.c picks one.
#ifndef SQK_CONVERT_TABLE_H
#define SQK_CONVERT_TABLE_H
#include "CSwiftQuantKernels.h"
#include "ConvertCommon.h"

#define SQK_DECLARE_CONVERT(prefix)                                                                            \
    void prefix##decode_range(int32_t encoding, const void *source, long begin, long end, float *output);    \
    uint32_t prefix##absmax_bits(int32_t encoding, const void *source, long begin, long end);               \
    void prefix##quantize_range(int32_t encoding, const void *source, long begin, long end, float scale,    \
                                int8_t *values);                                                             \
    void prefix##quantize_blocks(int32_t encoding, const void *source, long length, long b0, long b1,       \
                                 int8_t *values, float *scales);                                             \
    long prefix##q8_0_blocks(const float *source, long b0, long b1, int8_t *codes, long code_stride,        \
                             uint8_t *half_scales, long half_stride, float *float_scales);                \
    void prefix##error_sums_range(int32_t encoding, const void *source, const int8_t *codes,                \
                                  const float *scales, long length, long begin, long end, float threshold,  \
                                  sqk_error_sums *sums);

SQK_DECLARE_CONVERT(sqk_scalar_convert_)
#if defined(__x86_64__)
SQK_DECLARE_CONVERT(sqk_avx2_convert_)
SQK_DECLARE_CONVERT(sqk_avx512_convert_)
#endif
#endif
