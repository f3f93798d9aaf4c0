# SPDX-License-Identifier: Apache-2.0
"""PyTorch under a slice: mem_get_info shows it, allocating past it raises
out-of-memory.  Usage: torch_slice.py SLICE_GIB [HOLD_GIB]"""
import sys
import torch

slice_b = int(float(sys.argv[1]) * 2**30)
free, total = torch.cuda.mem_get_info()
print(f"torch total={total} free={free}")
assert total == slice_b, f"total {total} != slice {slice_b}"
hold = int(float(sys.argv[2]) * 2**30) if len(sys.argv) > 2 else slice_b // 2
x = torch.empty(hold, dtype=torch.uint8, device="cuda")
x.fill_(1)
torch.cuda.synchronize()
try:
    y = torch.empty(slice_b - hold + 2**30, dtype=torch.uint8, device="cuda")
    print("torch past-slice=ALLOCATED")
    sys.exit(1)
except torch.OutOfMemoryError:
    print("torch past-slice=OOM")
print("torch ok")
