# SPDX-License-Identifier: Apache-2.0
"""CuPy under a slice.  Usage: cupy_slice.py SLICE_GIB"""
import sys
import cupy

slice_b = int(float(sys.argv[1]) * 2**30)
free, total = cupy.cuda.runtime.memGetInfo()
print(f"cupy total={total} free={free}")
assert total == slice_b
a = cupy.zeros(slice_b // 2, dtype=cupy.uint8)
try:
    b = cupy.zeros(slice_b, dtype=cupy.uint8)
    print("cupy past-slice=ALLOCATED")
    sys.exit(1)
except cupy.cuda.memory.OutOfMemoryError:
    print("cupy past-slice=OOM")
print("cupy ok")
