// ZSTD_STATIC_LINKING_ONLY exposes the experimental parameters (for example literal
// compression mode) that the checkpoint writer sets by their enum values.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>
