// SPDX-License-Identifier: Apache-2.0

package elfcheck

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
)

// ErrNoString is wrapped by ReadString when the symbol is missing or is
// not a string constant.
var ErrNoString = errors.New("does not export the string")

// maxString bounds what ReadString reads from a file it does not trust.
const maxString = 4096

// ReadString returns the NUL-terminated string constant that path exports
// as symbol (a `const char symbol[]`), read from the file without loading
// it. Its errors do not repeat path, except those of opening it.
func ReadString(path, symbol string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return "", fmt.Errorf("%w %s: no dynamic symbol table (%w)", ErrNoString, symbol, err)
	}
	for _, s := range syms {
		if s.Name != symbol {
			continue
		}
		if s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) || elf.ST_TYPE(s.Info) != elf.STT_OBJECT ||
			s.Size == 0 || s.Size > maxString {
			return "", fmt.Errorf("%w %s: not a defined string constant", ErrNoString, symbol)
		}
		sec := f.Sections[s.Section]
		if sec.Type == elf.SHT_NOBITS || s.Value < sec.Addr || s.Value+s.Size > sec.Addr+sec.Size {
			return "", fmt.Errorf("%w %s: outside its section %s", ErrNoString, symbol, sec.Name)
		}
		b := make([]byte, s.Size)
		if _, err := sec.ReadAt(b, int64(s.Value-sec.Addr)); err != nil {
			return "", fmt.Errorf("reading %s: %w", symbol, err)
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return string(b), nil
	}
	return "", fmt.Errorf("%w %s", ErrNoString, symbol)
}
