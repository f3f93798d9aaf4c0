// SPDX-License-Identifier: Apache-2.0

// Package preloadtest drives libsoftmig.so from the outside: real processes
// run with it preloaded against the simulated GPU (sim/), and the tests
// check what they saw, what the region and the simulator hold, and what was
// logged.
package preloadtest
