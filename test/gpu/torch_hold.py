# SPDX-License-Identifier: Apache-2.0
"""Holds GIB of device memory until stdin closes (two processes, one job)."""
import sys
import torch

x = torch.empty(int(float(sys.argv[1]) * 2**30), dtype=torch.uint8, device="cuda")
x.fill_(1)
torch.cuda.synchronize()
print("held", flush=True)
sys.stdin.read()
