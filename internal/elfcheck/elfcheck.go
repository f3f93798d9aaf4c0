// SPDX-License-Identifier: Apache-2.0

// Package elfcheck decides, without loading it, whether a file can be a
// preload library for this machine: an ELF shared object of the host's
// class, byte order and architecture, complete (not truncated), exporting a
// given function.
package elfcheck

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

// Sentinel errors, wrapped with the path and the details.
var (
	ErrNotELF      = errors.New("not an ELF file")
	ErrTruncated   = errors.New("truncated")
	ErrWrongArch   = errors.New("built for another machine")
	ErrNotShared   = errors.New("not a shared object")
	ErrMissingSym  = errors.New("does not export the required function")
	ErrUnsupported = errors.New("this host's architecture is not known to softmig-install")
)

// Host describes the ELF flavour this process runs as.
type Host struct {
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
}

// HostArch returns the ELF flavour of the running program's architecture.
func HostArch() (Host, error) {
	m := map[string]Host{
		"amd64":   {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64},
		"arm64":   {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64},
		"ppc64le": {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64},
		"riscv64": {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_RISCV},
		"s390x":   {elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390},
		"386":     {elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386},
	}
	h, ok := m[runtime.GOARCH]
	if !ok {
		return Host{}, fmt.Errorf("%w: %s", ErrUnsupported, runtime.GOARCH)
	}
	return h, nil
}

// Check opens path and checks it against the host (see CheckReader).
func Check(path, symbol string) error {
	host, err := HostArch()
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q: %w (%s)", path, ErrNotShared, fi.Mode().Type())
	}
	if err := CheckReader(f, fi.Size(), host, symbol); err != nil {
		return fmt.Errorf("%q: %w", path, err)
	}
	return nil
}

// CheckReader checks that r (size bytes) is a complete ELF shared object for
// host that exports symbol as a defined, default-visibility function.
func CheckReader(r io.ReaderAt, size int64, host Host, symbol string) error {
	var ident [elf.EI_NIDENT]byte
	if _, err := r.ReadAt(ident[:], 0); err != nil || string(ident[:4]) != elf.ELFMAG {
		return fmt.Errorf("%w (no ELF magic at the start; %d bytes)", ErrNotELF, size)
	}
	if err := checkExtent(r, size, ident); err != nil {
		return err
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotELF, err)
	}
	if f.Class != host.Class || f.Data != host.Data || f.Machine != host.Machine {
		return fmt.Errorf("%w: %v %v %v, this host needs %v %v %v",
			ErrWrongArch, f.Class, f.Data, f.Machine, host.Class, host.Data, host.Machine)
	}
	if f.Type != elf.ET_DYN || !hasDynamic(f) {
		return fmt.Errorf("%w (ELF type %v)", ErrNotShared, f.Type)
	}
	if flags, err := f.DynValue(elf.DT_FLAGS_1); err == nil && len(flags) > 0 && flags[0]&uint64(elf.DF_1_PIE) != 0 {
		return fmt.Errorf("%w (a position-independent executable)", ErrNotShared)
	}
	for _, p := range f.Progs {
		if p.Off+p.Filesz > uint64(size) {
			return fmt.Errorf("%w: a segment ends at byte %d of %d", ErrTruncated, p.Off+p.Filesz, size)
		}
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && s.Offset+s.FileSize > uint64(size) {
			return fmt.Errorf("%w: section %s ends at byte %d of %d", ErrTruncated, s.Name, s.Offset+s.FileSize, size)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return fmt.Errorf("%w %s(): no dynamic symbol table (%w)", ErrMissingSym, symbol, err)
	}
	for _, s := range syms {
		if s.Name != symbol {
			continue
		}
		bind, typ := elf.ST_BIND(s.Info), elf.ST_TYPE(s.Info)
		switch {
		case s.Section == elf.SHN_UNDEF:
			return fmt.Errorf("%w %s(): it is only referenced, not defined", ErrMissingSym, symbol)
		case typ != elf.STT_FUNC && typ != sttGnuIfunc:
			return fmt.Errorf("%w %s(): the symbol is a %v, not a function", ErrMissingSym, symbol, typ)
		case bind != elf.STB_GLOBAL && bind != elf.STB_WEAK:
			return fmt.Errorf("%w %s(): the symbol is %v", ErrMissingSym, symbol, bind)
		case elf.ST_VISIBILITY(s.Other) != elf.STV_DEFAULT && elf.ST_VISIBILITY(s.Other) != elf.STV_PROTECTED:
			return fmt.Errorf("%w %s(): the symbol is %v", ErrMissingSym, symbol, elf.ST_VISIBILITY(s.Other))
		}
		return nil
	}
	return fmt.Errorf("%w %s()", ErrMissingSym, symbol)
}

func hasDynamic(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return true
		}
	}
	return false
}

// checkExtent compares the file size with the end of the program and section
// header tables that the ELF header announces. A file cut short loses its
// section headers first (they sit at the end), so this is the clearest
// message for a truncated copy.
func checkExtent(r io.ReaderAt, size int64, ident [elf.EI_NIDENT]byte) error {
	var bo binary.ByteOrder
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return fmt.Errorf("%w (unknown byte order %d)", ErrNotELF, ident[elf.EI_DATA])
	}
	var hdr [64]byte
	var phoff, shoff uint64
	var phentsize, phnum, shentsize, shnum uint16
	switch elf.Class(ident[elf.EI_CLASS]) {
	case elf.ELFCLASS64:
		if size < 64 {
			return fmt.Errorf("%w: %d bytes, an ELF header alone is 64", ErrTruncated, size)
		}
		if _, err := r.ReadAt(hdr[:64], 0); err != nil {
			return fmt.Errorf("%w: reading the ELF header: %w", ErrTruncated, err)
		}
		phoff, shoff = bo.Uint64(hdr[0x20:]), bo.Uint64(hdr[0x28:])
		phentsize, phnum = bo.Uint16(hdr[0x36:]), bo.Uint16(hdr[0x38:])
		shentsize, shnum = bo.Uint16(hdr[0x3a:]), bo.Uint16(hdr[0x3c:])
	case elf.ELFCLASS32:
		if size < 52 {
			return fmt.Errorf("%w: %d bytes, an ELF header alone is 52", ErrTruncated, size)
		}
		if _, err := r.ReadAt(hdr[:52], 0); err != nil {
			return fmt.Errorf("%w: reading the ELF header: %w", ErrTruncated, err)
		}
		phoff, shoff = uint64(bo.Uint32(hdr[0x1c:])), uint64(bo.Uint32(hdr[0x20:]))
		phentsize, phnum = bo.Uint16(hdr[0x2a:]), bo.Uint16(hdr[0x2c:])
		shentsize, shnum = bo.Uint16(hdr[0x2e:]), bo.Uint16(hdr[0x30:])
	default:
		return fmt.Errorf("%w (unknown class %d)", ErrNotELF, ident[elf.EI_CLASS])
	}
	need := max(phoff+uint64(phentsize)*uint64(phnum), shoff+uint64(shentsize)*uint64(shnum))
	if need > uint64(size) {
		return fmt.Errorf("%w: %d bytes, its headers describe at least %d", ErrTruncated, size, need)
	}
	return nil
}

// sttGnuIfunc is STT_GNU_IFUNC (glibc's indirect functions, e.g. memcpy);
// debug/elf names it only from Go 1.23 on, and the tools build with 1.22.
const sttGnuIfunc = elf.SymType(10)
