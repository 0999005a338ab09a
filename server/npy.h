/*
 * npy.h — NumPy .npy v1.0/2.0 files (little-endian, C order) for `orchard run` and tests.
 * Reads float32/float64/int32/int64/bool/uint8 and converts to a runtime dtype; writes
 * float32 (<f4), int32 (<i4) and bool (|b1).
 */
#ifndef ORCHARD_SRV_NPY_H
#define ORCHARD_SRV_NPY_H

#include "orchard/rt.h"

/* Reads `path` into a tensor of dtype `want` (converting numerically). On success
 * out->data is malloc'd and owned by the caller. err names the file. */
rt_status srv_npy_read(const char *path, rt_dtype want, rt_tensor *out, rt_error *err);
/* Reads keeping the file's own dtype (f8/i8 narrowed to f4/i4, u1 to bool only when 0/1). */
rt_status srv_npy_read_any(const char *path, rt_tensor *out, rt_error *err);
rt_status srv_npy_write(const char *path, const rt_tensor *t, rt_error *err);

#endif
