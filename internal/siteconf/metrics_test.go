// SPDX-License-Identifier: Apache-2.0

package siteconf

import (
	"os"
	"strings"
	"testing"
)

const oneGPU = "gpus:\n  l40s:\n    shards: 4\n"

func TestMetricsSection(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       Metrics
		warning    string // part of the one warning expected; "" for none
	}{
		{"absent", "", DefaultMetrics(), ""},
		{"off", "metrics:\n  enabled: false\n", Metrics{Enabled: false, Listen: DefaultMetricsListen}, ""},
		{"every interface", "metrics:\n  listen: 0.0.0.0:9847\n", Metrics{Enabled: true, Listen: "0.0.0.0:9847"}, ""},
		{"all, short", "metrics:\n  listen: \":9900\"\n", Metrics{Enabled: true, Listen: ":9900"}, ""},
		{"ipv6", "metrics:\n  listen: \"[::1]:9847\"\n", Metrics{Enabled: true, Listen: "[::1]:9847"}, ""},
		{"no port", "metrics:\n  listen: 127.0.0.1\n", DefaultMetrics(), `softmig.yaml:5: metrics.listen: "127.0.0.1": not host:port`},
		{"port 0", "metrics:\n  listen: 127.0.0.1:0\n", DefaultMetrics(), "port is not a number from 1 to 65535"},
		{"host name", "metrics:\n  listen: gpu01:9847\n", DefaultMetrics(), "not an IP address"},
		{"switch not bool", "metrics:\n  enabled: off-ish\n", DefaultMetrics(), `metrics.enabled: "off-ish": use true or false; the endpoint stays on 127.0.0.1:9847`},
		{"unknown key", "metrics:\n  port: 9847\n", DefaultMetrics(), `unknown key "port", ignored; known keys here: enabled, listen`},
		{"not a mapping", "metrics: yes\n", DefaultMetrics(), "found text \"yes\" where a mapping of keys is expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(oneGPU+tc.yaml), "softmig.yaml")
			if err != nil {
				t.Fatalf("Parse: %v; a metrics problem must never fail GPU jobs", err)
			}
			if c.Metrics != tc.want {
				t.Errorf("Metrics = %+v; want %+v", c.Metrics, tc.want)
			}
			switch {
			case tc.warning == "" && len(c.Warnings) > 0:
				t.Errorf("warnings %q; want none", c.Warnings)
			case tc.warning != "" && (len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], tc.warning)):
				t.Errorf("warnings %q; want one with %q", c.Warnings, tc.warning)
			}
		})
	}
}

// softmig.yaml(5) documents the default address, and the example config
// the package installs shows it.
func TestMetricsDefaultDocumented(t *testing.T) {
	for _, f := range []string{"../../man/softmig.yaml.5", "../../slurm/softmig.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.ReplaceAll(string(data), `\&`, ""), DefaultMetricsListen) {
			t.Errorf("%s does not name the default metrics address %s", f, DefaultMetricsListen)
		}
	}
}
