// SPDX-License-Identifier: Apache-2.0

package jobconf

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSlot(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Slot
	}{
		{"0-25", Slot{{0, 25}}},
		{"0-100", Slot{{0, 100}}},
		{"99-100", Slot{{99, 100}}},
		{"0-25,50-75", Slot{{0, 25}, {50, 75}}},
		{"0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15", Slot{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}}},
	} {
		got, err := ParseSlot(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSlot(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("ParseSlot(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestSlotErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"over 100", "SOFTMIG_SM_SLOT=100-101", "line 1: SOFTMIG_SM_SLOT: "},
		{"reversed", "# c\nSOFTMIG_SM_SLOT_0=50-40", "line 2: SOFTMIG_SM_SLOT_0: "},
		{"empty range", "SOFTMIG_SM_SLOT=40-40", "line 1: SOFTMIG_SM_SLOT: "},
		{"unmerged", "SOFTMIG_SM_SLOT=0-25,25-50", "line 1: SOFTMIG_SM_SLOT: \"0-25,25-50\": ranges 0-25 and \"25-50\" touch: write them merged as 0-50"},
		{"overlapping", "\n\nSOFTMIG_SM_SLOT_3=0-30,25-50", "line 3: SOFTMIG_SM_SLOT_3: "},
		{"descending", "SOFTMIG_SM_SLOT=50-75,0-25", "line 1: SOFTMIG_SM_SLOT: "},
		{"nine ranges", "SOFTMIG_SM_SLOT=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17", "line 1: SOFTMIG_SM_SLOT: \"0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17\" has 9 ranges: at most 8"},
		{"inner space", "SOFTMIG_SM_SLOT=0-25, 50-75", "line 1: SOFTMIG_SM_SLOT: "},
		{"space in range", "SOFTMIG_SM_SLOT=0 -25", "line 1: SOFTMIG_SM_SLOT: "},
		{"leading zero", "SOFTMIG_SM_SLOT=05-10", "line 1: SOFTMIG_SM_SLOT: "},
		{"missing B", "SOFTMIG_SM_SLOT=5-", "line 1: SOFTMIG_SM_SLOT: "},
		{"missing dash", "SOFTMIG_SM_SLOT=5", "line 1: SOFTMIG_SM_SLOT: "},
		{"empty", "SOFTMIG_SM_SLOT=", "line 1: SOFTMIG_SM_SLOT: empty slot"},
		{"trailing comma", "SOFTMIG_SM_SLOT=0-25,", "line 1: SOFTMIG_SM_SLOT: "},
		{"sign", "SOFTMIG_SM_SLOT=+0-25", "line 1: SOFTMIG_SM_SLOT: "},
		{"slot device 16", "SOFTMIG_SM_SLOT_16=0-25", "line 1: SOFTMIG_SM_SLOT_16: unknown key"},
		{"gpu without suffix", "SOFTMIG_GPU=0", "line 1: SOFTMIG_GPU: give it per device, as SOFTMIG_GPU_<i>"},
		{"gpu not a number", "# x\nSOFTMIG_GPU_0=abc", "line 2: SOFTMIG_GPU_0: \"abc\" is not an integer from 0 to 1023"},
		{"gpu too large", "SOFTMIG_GPU_0=1024", "line 1: SOFTMIG_GPU_0: "},
		{"gpu sign", "SOFTMIG_GPU_0=+1", "line 1: SOFTMIG_GPU_0: "},
		{"gpu device 01", "SOFTMIG_GPU_01=1", "line 1: SOFTMIG_GPU_01: unknown key"},
		{"gpu twice", "SOFTMIG_GPU_1=1\nSOFTMIG_GPU_1=1", "line 2: SOFTMIG_GPU_1 given again (first on line 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.in))
			if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %+v, %v; want ErrSyntax containing %q", tc.in, c, err, tc.want)
			}
		})
	}
}

func TestSlotRoundTrip(t *testing.T) {
	c := &Config{
		SMLimit:      intp(25),
		SMSlot:       Slot{{0, 25}},
		DeviceSMSlot: map[int]Slot{2: {{12, 25}, {50, 62}}, 0: {{75, 100}}},
		DeviceGPU:    map[int]int{2: 1023, 0: 3, 1: 0},
		Region:       "/r",
	}
	want := `CUDA_DEVICE_SM_LIMIT=25
SOFTMIG_SM_SLOT=0-25
SOFTMIG_SM_SLOT_0=75-100
SOFTMIG_SM_SLOT_2=12-25,50-62
SOFTMIG_GPU_0=3
SOFTMIG_GPU_1=0
SOFTMIG_GPU_2=1023
SOFTMIG_REGION=/r
`
	out := c.Marshal()
	if string(out) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", out, want)
	}
	back, err := Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("Parse(Marshal(c)) = %+v, want %+v", back, c)
	}
	if got := back.SlotFor(2).String(); got != "12-25,50-62" {
		t.Errorf("SlotFor(2) = %q", got)
	}
	if got := back.SlotFor(1).String(); got != "0-25" {
		t.Errorf("SlotFor(1) = %q, want the unsuffixed slot", got)
	}
}

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		n     int
		units []int
		slot  string
	}{
		{4, []int{0}, "0-25"},
		{4, []int{1, 2}, "25-75"},
		{4, []int{0, 2, 3}, "0-25,50-100"},
		{3, []int{0, 1, 2}, "0-100"},
		{3, []int{1}, "33-66"},
		{8, []int{0, 1, 2}, "0-37"},
		{8, []int{7}, "87-100"},
		{8, []int{1, 3, 5, 7}, "12-25,37-50,62-75,87-100"},
	} {
		s := SlotOf(tc.units, tc.n)
		if s.String() != tc.slot {
			t.Errorf("SlotOf(%v, %d) = %q, want %q", tc.units, tc.n, s, tc.slot)
		}
		if got := s.Units(tc.n); !reflect.DeepEqual(got, tc.units) {
			t.Errorf("%q.Units(%d) = %v, want %v", tc.slot, tc.n, got, tc.units)
		}
	}
	// A slot cut for another number of units maps to every unit it overlaps.
	s, _ := ParseSlot("0-50")
	if got := s.Units(3); !reflect.DeepEqual(got, []int{0, 1}) {
		t.Errorf("0-50 in thirds = %v, want [0 1]", got)
	}
	if s.Len() != 50 {
		t.Errorf("Len = %d", s.Len())
	}
}
