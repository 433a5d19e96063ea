/* Type conversion of contiguous arrays between float32/64, float16, bfloat16, (u)int8..64 and
 * bool.  The caller owns x and y, which must not overlap; nothing here allocates.
 *
 * Rules (ONNX Cast, with the cases it leaves open pinned down): float to integer truncates
 * toward zero and saturates at the target's range, NaN gives 0; integer to integer wraps
 * modulo 2^bits (two's complement, like numpy's astype); anything to bool is x != 0 (NaN is
 * true); bool is 0 or 1; conversions to float16, bfloat16 and narrower floats round to
 * nearest even in a single rounding (NaN stays NaN, overflow gives infinity). */
#ifndef QP_ELT_CAST_H
#define QP_ELT_CAST_H
#include <stddef.h>
#include <stdint.h>

int qp_elt_cast_supported(int from_dtype, int to_dtype);
void qp_elt_cast(size_t n, const void *x, int from_dtype, void *y, int to_dtype);
void qp_elt_cast__ref(size_t n, const void *x, int from_dtype, void *y, int to_dtype);

/* One IEEE half: to float exactly; from float rounded to nearest even. */
float qp_elt_f16_to_f32(uint16_t h);
uint16_t qp_elt_f32_to_f16(float f);

#endif
