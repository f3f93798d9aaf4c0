// SPDX-License-Identifier: Apache-2.0

package logrec_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/softmig/softmig/internal/logrec"
)

func ExampleEncoder() {
	ts := time.Date(2026, 11, 25, 21, 39, 37, 123456000, time.UTC)
	e := logrec.NewEncoder(os.Stdout)
	_ = e.Encode(logrec.Event(ts, "42", 1234, 0, logrec.MsgOOMRefused,
		"api", "cuMemAlloc_v2", "requested", "1073741824", "used", "12348030976", "limit", "12884901888", "suppressed", "0"))
	_ = e.Encode(logrec.Event(ts, "42", 1234, logrec.NoDev, logrec.MsgProcessStart, "exe", "/opt/my app/run", "uid", "1001"))
	// Output:
	// ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=1234 dev=0 msg="oom refused" api=cuMemAlloc_v2 requested=1073741824 used=12348030976 limit=12884901888 suppressed=0
	// ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=1234 dev=- msg="process start" exe="/opt/my app/run" uid=1001
}

func ExampleReader() {
	log := `ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=1234 dev=0 msg="process exit" peak=1048576 throttled_ms=0
garbage
ts=2026-11-25T21:39:38.000000Z level=event job=42 pid=1235 dev=- msg="process st`
	r := logrec.NewReader(strings.NewReader(log))
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if it.Err != nil {
			fmt.Println("skipped", it.Line, errors.Is(it.Err, logrec.ErrPartial))
			continue
		}
		peak, _ := it.Rec.Int("peak")
		fmt.Println(it.Line, it.Rec.Msg, peak)
	}
	// Output:
	// 1 process exit 1048576
	// skipped 2 false
	// skipped 3 true
}

func ExampleCanonical() {
	fmt.Println(logrec.Canonical(`ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=1 dev=0 msg="oom kill" target=7`))
	fmt.Println(logrec.Canonical(`ts=2026-11-25T21:39:37.1234Z level=event job=42 pid=1 dev=0 msg="oom kill" target=7`))
	fmt.Println(logrec.Canonical(`ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=1 dev=0 msg="oom kill"`))
	// Output:
	// <nil>
	// not in canonical form: differs at column 28: got "Z level=event job=42 pid=1 dev=0 msg=\"oo...", want "00Z level=event job=42 pid=1 dev=0 msg=\"..."
	// malformed event "oom kill": missing key target
}
