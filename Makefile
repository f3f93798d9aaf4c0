# SoftMig build.  `make` builds the preload library, the simulated GPU and the
# Go tools into build/; `make test` runs every CPU test through `go test`.
# Site overrides (CC, CFLAGS, PREFIX, ...) go in an optional config.mak.

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
GO       ?= go
BUILD    := build

WARN     := -Wall -Wextra -Werror -Werror=implicit-function-declaration \
            -Werror=int-conversion -Werror=incompatible-pointer-types \
            -Wno-format-truncation
CFLAGS   ?= -O2 -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC $(WARN) $(DEFS_CFLAGS)

-include config.mak
# RUNDIR, LOGDIR: the one definition of the paths the library trusts.
include internal/defs/defs.mk
# VERSION: what the library's softmig_version() and every tool's --version
# say: the VERSION file of a release tarball (make dist), else git describe.
VERSION     ?= $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null || echo unknown)
DEFS_CFLAGS := -DSM_RUN_DIR='"$(RUNDIR)"' -DSM_LOG_DIR='"$(LOGDIR)"'
GO_LDFLAGS  := -X github.com/softmig/softmig/internal/defs.runDir=$(RUNDIR) \
               -X github.com/softmig/softmig/internal/defs.logDir=$(LOGDIR) \
               -X github.com/softmig/softmig/internal/defs.version=$(VERSION)

# The paths are compiled in: a build with other values must rebuild the C
# parts (make tracks files, not flags), so they depend on this stamp, which
# changes only when the values do.
DEFS_STAMP  := $(BUILD)/defs.stamp
$(shell mkdir -p $(BUILD) && echo '$(DEFS_CFLAGS)' | cmp -s - $(DEFS_STAMP) || echo '$(DEFS_CFLAGS)' > $(DEFS_STAMP))

PRELOAD_SRCS := $(sort $(wildcard preload/*.c))
PRELOAD_ASM  := $(sort $(wildcard preload/*.S))
PRELOAD_HDRS := $(wildcard preload/*.h) $(DEFS_STAMP)
SIM_COMMON   := $(sort $(wildcard sim/state_*.c)) preload/size.c
SIM_CUDA     := $(sort $(wildcard sim/cuda_*.c)) $(SIM_COMMON)
SIM_NVML     := $(sort $(wildcard sim/nvml_*.c)) $(SIM_COMMON)
SIM_HDRS     := $(wildcard sim/*.h) $(PRELOAD_HDRS)
CPROGS       := $(patsubst test/cprog/%.c,$(BUILD)/test/%,$(sort $(wildcard test/cprog/*.c))) \
                $(BUILD)/test/static_idle

.PHONY: all lib sim tools cprogs test go-floor demo bench gpu-test install uninstall dist rpm deb clean man

all: lib sim tools cprogs

lib: $(BUILD)/libsoftmig.so

# Rewritten only when VERSION changes, so a new commit rebuilds the library
# (and only the library: the version is compiled into it alone).
$(BUILD)/version: FORCE
	@mkdir -p $(BUILD)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
FORCE:

# Only libc is NEEDED and binding is lazy: the start of every (idle) process
# on the node stays cheap.  See preload/glibc_compat.h for glibc before 2.34.
$(BUILD)/libsoftmig.so: $(PRELOAD_SRCS) $(PRELOAD_ASM) $(PRELOAD_HDRS) preload/exports.map Makefile $(BUILD)/version
	@mkdir -p $(BUILD)
	$(CC) $(BASE_CFLAGS) -DSOFTMIG_VERSION='"$(VERSION)"' $(CFLAGS) -fvisibility=hidden -shared -o $@ \
	    $(PRELOAD_SRCS) $(PRELOAD_ASM) \
	    -Wl,-soname,libsoftmig.so -Wl,--no-undefined -Wl,-Bsymbolic \
	    -Wl,--version-script=preload/exports.map -Wl,--as-needed -ldl -lpthread

sim: $(BUILD)/sim/libcuda.so.1 $(BUILD)/sim/libnvidia-ml.so.1

# -Bsymbolic: the simulator's own internal calls must never land in the
# preload's hooks (the real driver behaves the same way).
$(BUILD)/sim/libcuda.so.1: $(SIM_CUDA) $(SIM_HDRS)
	@mkdir -p $(BUILD)/sim
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ipreload -shared -o $@ $(SIM_CUDA) \
	    -Wl,-soname,libcuda.so.1 -Wl,-Bsymbolic -lpthread -lrt
	ln -sf libcuda.so.1 $(BUILD)/sim/libcuda.so

$(BUILD)/sim/libnvidia-ml.so.1: $(SIM_NVML) $(SIM_HDRS)
	@mkdir -p $(BUILD)/sim
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ipreload -shared -o $@ $(SIM_NVML) \
	    -Wl,-soname,libnvidia-ml.so.1 -Wl,-Bsymbolic -lpthread -lrt
	ln -sf libnvidia-ml.so.1 $(BUILD)/sim/libnvidia-ml.so

# The null driver (test/bench): a libcuda.so.1 that does nothing, and the
# libnvidia-ml.so.1 beside it that the library trusts, so the benchmarks
# measure the library's own cost.
$(BUILD)/bench/libcuda.so.1: test/bench/nulldriver.c $(PRELOAD_HDRS)
	@mkdir -p $(BUILD)/bench
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ipreload -fvisibility=hidden -shared -o $@ $< -Wl,-soname,libcuda.so.1

$(BUILD)/bench/libnvidia-ml.so.1: test/bench/nullnvml.c $(PRELOAD_HDRS)
	@mkdir -p $(BUILD)/bench
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ipreload -fvisibility=hidden -shared -o $@ $< -Wl,-soname,libnvidia-ml.so.1

# Test clients: dl_*.c load libcuda.so.1 with dlopen; unit.c links the
# library's parsers directly; the others link -lcuda.  test/cprog/client/
# is the command interpreter that cuclient, dl_client and dl_dlmopen share
# (a folder, so that the wildcard above makes no program of it).
cprogs: $(CPROGS)

CLIENT_SRCS := $(sort $(wildcard test/cprog/client/*.c))
CLIENT_DEPS := $(CLIENT_SRCS) test/cprog/client/client.h
$(BUILD)/test/cuclient $(BUILD)/test/dl_client $(BUILD)/test/dl_dlmopen: PROG_SRCS := $(CLIENT_SRCS)

UNIT_SRCS := $(addprefix preload/,size.c parse.c read.c fstat.c strlcpy.c proc.c env.c job.c userns.c \
             config.c request.c log.c paths.c)

$(BUILD)/test/unit: test/cprog/unit.c $(UNIT_SRCS) $(PRELOAD_HDRS)
	@mkdir -p $(BUILD)/test
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ipreload -o $@ $< $(UNIT_SRCS) -lpthread

# dl_idle again, static: LD_PRELOAD must change nothing for it either.
$(BUILD)/test/static_idle: test/cprog/dl_idle.c
	@mkdir -p $(BUILD)/test
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -DSTATIC_PROBE -static -o $@ $<

# dl_errstate looks up its own symbols: they must be in its dynamic table.
$(BUILD)/test/dl_errstate: DL_LDFLAGS := -rdynamic

$(BUILD)/test/dl_%: test/cprog/dl_%.c $(CLIENT_DEPS) $(PRELOAD_HDRS)
	@mkdir -p $(BUILD)/test
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ipreload -o $@ $< $(PROG_SRCS) $(DL_LDFLAGS) -ldl -lpthread

$(BUILD)/test/%: test/cprog/%.c $(CLIENT_DEPS) $(PRELOAD_HDRS) $(BUILD)/sim/libcuda.so.1
	@mkdir -p $(BUILD)/test
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ipreload -o $@ $< $(PROG_SRCS) \
	    -L$(BUILD)/sim -lcuda -ldl -lpthread

tools:
	@mkdir -p $(BUILD)/bin
	@if ls cmd/*/*.go >/dev/null 2>&1; then echo "$(GO) build -o $(BUILD)/bin/ ./cmd/..."; \
	    $(GO) build -ldflags "$(GO_LDFLAGS)" -o $(BUILD)/bin/ ./cmd/...; fi
	@mkdir -p $(BUILD)/completion
	@for t in $(BUILD)/bin/softmig-*; do [ -x "$$t" ] || continue; \
	    "$$t" --completion-bash > $(BUILD)/completion/$${t##*/} || exit 1; done

# testsum prints each package as it finishes (and what still runs when all is
# quiet), every skip with its reason, and "N passed, N failed, N skipped" last.
test: all
	$(GO) run ./internal/testsum $(GO) test -json -ldflags "$(GO_LDFLAGS)" -count=1 ./...

# The oldest Go the tools build with: EL8/EL9 build hosts ship Go 1.22
# (go-toolset).  The go command fetches this toolchain through the module
# proxy; the CPU tests of the tools and their packages run with it too.
GO_FLOOR ?= go1.22.12
go-floor: all
	GOTOOLCHAIN=$(GO_FLOOR) CGO_CFLAGS="-O2 -g -Wno-deprecated-declarations" sh -c '\
	    $(GO) build ./... && $(GO) vet ./... && \
	    $(GO) test -ldflags "$(GO_LDFLAGS)" -count=1 ./internal/... ./cmd/...'

demo: all
	./scripts/demo.sh

bench: all $(BUILD)/bench/libcuda.so.1 $(BUILD)/bench/libnvidia-ml.so.1 $(BUILD)/bench/timeauthority
	./scripts/bench.sh

# A stand-in for the node's time authority, for the bench of an open gate.
$(BUILD)/bench/timeauthority: FORCE
	@mkdir -p $(BUILD)/bench
	$(GO) build -ldflags "$(GO_LDFLAGS)" -o $@ ./test/bench/timeauthority

# Exits 77 (automake's SKIP) on a machine without an NVIDIA GPU.
gpu-test:
	./scripts/gpu-test.sh

# A staged install (DESTDIR set, for a package) never ships an ld.so.preload:
# the package's post-install step adds the line on the node.
# The Slurm scripts get PREFIX/bin in place of @BINDIR@, so they run the
# tools where this install put them.
install: lib tools
	$(BUILD)/bin/softmig-install install --root "$(DESTDIR)/" --prefix "$(PREFIX)" --from "$(BUILD)" --src "$(CURDIR)" $(if $(DESTDIR),--no-preload)

# Removes exactly what install recorded in its manifest (edited configs stay).
uninstall:
	$(BUILD)/bin/softmig-install uninstall --root "$(DESTDIR)/"

# Packages.  PKG_VERSION is VERSION as rpm and dpkg accept it (no dashes,
# starting with a digit).  dist: the source tarball rpmbuild builds from:
# the work tree's files as git sees them (tracked and new, not ignored, so
# the package holds what was built), the vendored Go modules (the build host
# needs no network) and VERSION.
PKG_VERSION := $(shell echo '$(VERSION)' | sed -e 's/^v//' -e '/^[0-9][0-9]*\./!s/^/0.0.0.git/' -e 's/-/./g')
DIST        := softmig-$(PKG_VERSION)
PKG_OUT     ?= $(BUILD)/pkg
RPMBUILD    ?= rpmbuild
# On a host whose packages are not RPMs, rpmbuild cannot see the build tools.
RPMBUILD_FLAGS ?= $(if $(wildcard /var/lib/dpkg/status),--nodeps)

dist:
	rm -rf $(BUILD)/dist && mkdir -p $(BUILD)/dist/$(DIST) $(PKG_OUT)
	git ls-files -z --cached --others --exclude-standard | \
	    tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -x -C $(BUILD)/dist/$(DIST)
	echo '$(VERSION)' > $(BUILD)/dist/$(DIST)/VERSION
	cd $(BUILD)/dist/$(DIST) && $(GO) mod vendor
	tar -C $(BUILD)/dist -czf $(PKG_OUT)/$(DIST).tar.gz $(DIST)

rpm: dist
	rm -rf $(BUILD)/rpmbuild && mkdir -p $(BUILD)/rpmbuild/SOURCES
	cp $(PKG_OUT)/$(DIST).tar.gz $(BUILD)/rpmbuild/SOURCES/
	$(RPMBUILD) $(RPMBUILD_FLAGS) -ba --define "_topdir $(abspath $(BUILD)/rpmbuild)" \
	    --define "softmig_version $(VERSION)" --define "pkg_version $(PKG_VERSION)" packaging/rpm/softmig.spec
	cp $(BUILD)/rpmbuild/SRPMS/*.src.rpm $(BUILD)/rpmbuild/RPMS/*/*.rpm $(PKG_OUT)/

deb: lib tools
	rm -rf $(BUILD)/deb && mkdir -p $(PKG_OUT)
	$(MAKE) install PREFIX=/usr DESTDIR=$(abspath $(BUILD)/deb)
	packaging/deb/build.sh $(BUILD)/deb $(PKG_VERSION) $(PKG_OUT)/softmig_$(PKG_VERSION)_$$(dpkg --print-architecture).deb

clean:
	rm -rf $(BUILD)
