// The block kernels compiled for avx512; the dispatcher calls them only where the CPU has it.
#pragma STDC FP_CONTRACT OFF
#include "CSwiftQuantKernels.h"
#include "BlockTable.h"
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)
#define SQK_BLOCK_FN(name) sqk_avx512_block_##name
#include "BlockKernel.h"
#pragma clang attribute pop
#endif
