# SPDX-License-Identifier: Apache-2.0
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
# VERSION: what the library's softmig_version(), every tool's --version and
# the packages say: the release (the VERSION file), "+", and the build id
# (packaging/build-id.sh: commits up to HEAD, which grows with every commit,
# the commit, .dirty), e.g. 0.9.0+834.g86606a2.  rpm and dpkg both order a
# newer build above an older one.
RELEASE     := $(shell cat VERSION 2>/dev/null)
BUILD_ID    ?= $(shell packaging/build-id.sh)
VERSION     ?= $(RELEASE)+$(BUILD_ID)
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

.PHONY: all lib sim tools cprogs test go-floor demo bench gpu-test install uninstall version pkg-version dist rpm rpm-el8 rpm-el9 deb clean man

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

# The tools are position-independent executables, as distributions build
# theirs; scripts/check-go.sh refuses a Go older than go.mod's floor with
# the way to get one, before a dependency fails with its own message.
GO_MIN       := $(shell sed -n 's/^go //p' go.mod)
GO_BUILDMODE ?= pie
tools:
	@scripts/check-go.sh "$(GO)" $(GO_MIN)
	@mkdir -p $(BUILD)/bin
	@if ls cmd/*/*.go >/dev/null 2>&1; then echo "$(GO) build -o $(BUILD)/bin/ ./cmd/..."; \
	    $(GO) build -buildmode=$(GO_BUILDMODE) -ldflags "$(GO_LDFLAGS)" -o $(BUILD)/bin/ ./cmd/...; fi
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
# the admin runs softmig-install enable on the node.
# The Slurm scripts get PREFIX/bin in place of @BINDIR@, so they run the
# tools where this install put them.  UNITDIR, TMPFILESDIR: where the
# guard's unit and the tmpfiles.d entry go (packages pass their
# distribution's; the default depends on PREFIX, see softmig-install(8)).
install: lib tools
	$(BUILD)/bin/softmig-install install --root "$(DESTDIR)/" --prefix "$(PREFIX)" --from "$(BUILD)" --src "$(CURDIR)" \
	    $(if $(DESTDIR),--no-preload) $(if $(UNITDIR),--unit-dir "$(UNITDIR)") $(if $(TMPFILESDIR),--tmpfiles-dir "$(TMPFILESDIR)")

# Removes exactly what install recorded in its manifest (edited configs stay).
uninstall:
	$(BUILD)/bin/softmig-install uninstall --root "$(DESTDIR)/"

# Packages carry VERSION as it is: rpm and dpkg both accept it and order
# a newer build above an older one.  A build without a build number (a
# shallow clone, a tree without git or BUILD_ID) would not: refuse it.
DIST     := softmig-$(VERSION)
PKG_OUT  ?= $(BUILD)/pkg
IN_GIT   := $(shell [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$$(pwd -P)" ] && echo yes)

version:
	@echo '$(VERSION)'

pkg-version:
	@case '$(BUILD_ID)' in 0.*) echo "version $(VERSION) has no build number ($(BUILD_ID)): build packages from a full git clone (git fetch --unshallow) or a release tarball (make dist), so that the next build sorts above this one" >&2; exit 1 ;; esac
	@case '$(VERSION)' in [0-9]*) ;; *) echo "version $(VERSION): must start with a digit (the VERSION file)" >&2; exit 1 ;; esac
	@case '$(VERSION)' in *[!A-Za-z0-9.+~]*) echo "version $(VERSION): only letters, digits, '.', '+' and '~' make a version rpm and dpkg both take" >&2; exit 1 ;; esac

# dist: the source tarball the packages build from: the tree's files as git
# sees them (tracked and new, not ignored), BUILD_ID, and the Go modules
# vendored, so that building from it needs no network.  Vendoring needs the
# module proxy or a module cache holding go.sum's modules; from an unpacked
# release tarball (no git, vendor/ present) make dist packs the tree as it
# is, offline.
dist: pkg-version
	rm -rf $(BUILD)/dist && mkdir -p $(BUILD)/dist/$(DIST) $(PKG_OUT)
ifeq ($(IN_GIT),yes)
	git ls-files -z --cached --others --exclude-standard | \
	    tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -x -C $(BUILD)/dist/$(DIST)
	cd $(BUILD)/dist/$(DIST) && $(GO) mod vendor
else
	tar --exclude=./build --exclude=./config.mak -cf - . | tar -x -C $(BUILD)/dist/$(DIST)
	@[ -f vendor/modules.txt ] || { echo "no vendor/ here: make dist outside a git clone needs a release tarball's vendored modules" >&2; exit 1; }
endif
	echo '$(BUILD_ID)' > $(BUILD)/dist/$(DIST)/BUILD_ID
	tar -C $(BUILD)/dist --sort=name --owner=0 --group=0 -czf $(PKG_OUT)/$(DIST).tar.gz $(DIST)

# rpm: built by rpmbuild from the tarball, with this host's gcc and Go (so
# the package requires this host's glibc).  Build on each EL major version:
# make rpm-el8 and rpm-el9 do it in Rocky Linux containers (podman or docker).
RPMBUILD    ?= rpmbuild
# Packager: who builds the site's packages (as for deb, PKG_MAINTAINER).
PKG_PACKAGER ?= $(if $(findstring <>,$(PKG_MAINTAINER)),,$(PKG_MAINTAINER))
# On a host whose packages are not RPMs, rpmbuild cannot see the build tools.
RPMBUILD_FLAGS ?= $(if $(wildcard /var/lib/dpkg/status),--nodeps)

rpm: dist
	rm -rf $(BUILD)/rpmbuild && mkdir -p $(BUILD)/rpmbuild/SOURCES
	cp $(PKG_OUT)/$(DIST).tar.gz $(BUILD)/rpmbuild/SOURCES/
	$(RPMBUILD) $(RPMBUILD_FLAGS) -ba --define "_topdir $(abspath $(BUILD)/rpmbuild)" \
	    --define "softmig_version $(VERSION)" $(if $(PKG_PACKAGER),--define "packager $(PKG_PACKAGER)") packaging/rpm/softmig.spec
	cp $(BUILD)/rpmbuild/SRPMS/*.src.rpm $(BUILD)/rpmbuild/RPMS/*/*.rpm $(PKG_OUT)/

rpm-el8 rpm-el9: dist
	packaging/rpm/in-container.sh rockylinux:$(@:rpm-el%=%) $(PKG_OUT)/$(DIST).tar.gz $(PKG_OUT)/el$(@:rpm-el%=%)

# deb: built by dpkg-buildpackage (debhelper) from the tarball, with this
# host's gcc and the Go make finds (scripts/check-go.sh checks it: it may be
# a backports package or a go.dev tarball, which Build-Depends cannot name,
# hence -d).  The changelog names the build; PKG_MAINTAINER is who builds
# the site's packages: DEBFULLNAME <DEBEMAIL> as dch takes them, else git's
# user.
PKG_MAINTAINER ?= $(if $(DEBEMAIL),$(DEBFULLNAME) <$(DEBEMAIL)>,$(shell git config user.name 2>/dev/null) <$(shell git config user.email 2>/dev/null)>)
DPKG_BUILDPACKAGE_FLAGS ?= -d

deb: dist
	@case '$(PKG_MAINTAINER)' in *'<>'*|' <'*) echo "make deb: who builds this package? Set DEBFULLNAME and DEBEMAIL (or PKG_MAINTAINER='Name <email>')" >&2; exit 1 ;; esac
	@scripts/check-go.sh "$(GO)" $(GO_MIN)
	rm -rf $(BUILD)/debbuild && mkdir -p $(BUILD)/debbuild
	tar -C $(BUILD)/debbuild -xzf $(PKG_OUT)/$(DIST).tar.gz
	cp -r $(BUILD)/debbuild/$(DIST)/packaging/deb/debian $(BUILD)/debbuild/$(DIST)/debian
	packaging/deb/stamp.sh $(BUILD)/debbuild/$(DIST)/debian '$(VERSION)' '$(PKG_MAINTAINER)'
	cd $(BUILD)/debbuild/$(DIST) && PATH="$(dir $(shell command -v $(GO))):$$PATH" dpkg-buildpackage -b -us -uc $(DPKG_BUILDPACKAGE_FLAGS)
	cp $(BUILD)/debbuild/softmig_$(VERSION)_*.deb $(PKG_OUT)/

clean:
	rm -rf $(BUILD)
