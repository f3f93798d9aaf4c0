# SPDX-License-Identifier: Apache-2.0
"""JAX under a slice: XLA sizes its pool from the free memory it is told.
Usage: jax_slice.py SLICE_GIB"""
import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
import jax
import jax.numpy as jnp

slice_b = int(float(sys.argv[1]) * 2**30)
dev = jax.devices()[0]
stats = dev.memory_stats() or {}
limit = stats.get("bytes_limit", 0)
print(f"jax bytes_limit={limit}")
assert 0 < limit <= slice_b, f"bytes_limit {limit} not within slice {slice_b}"
x = jnp.ones((slice_b // 8,), dtype=jnp.uint8)  # fits
x.block_until_ready()
try:
    y = jnp.ones((slice_b + 2**30,), dtype=jnp.uint8)
    y.block_until_ready()
    print("jax past-slice=ALLOCATED")
    sys.exit(1)
except Exception as e:  # XlaRuntimeError: RESOURCE_EXHAUSTED
    print("jax past-slice=OOM" if "RESOURCE_EXHAUSTED" in str(e) or "out of memory" in str(e).lower() else f"jax error {e}")
print("jax ok")
