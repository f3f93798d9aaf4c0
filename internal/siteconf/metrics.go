// SPDX-License-Identifier: Apache-2.0

package siteconf

import (
	"net"
	"strconv"

	"gopkg.in/yaml.v3"
)

// DefaultMetricsListen is where softmig-guard serves /metrics unless
// metrics.listen says otherwise: loopback only, so that nothing about the
// node's jobs leaves it until the site chooses to open it. The port is not
// one an exporter commonly uses (node_exporter 9100, dcgm-exporter 9400,
// nvidia_gpu_exporter 9835); softmig.yaml(5) documents it.
const DefaultMetricsListen = "127.0.0.1:9847"

// Metrics is the metrics: section: softmig-guard's Prometheus endpoint.
type Metrics struct {
	Enabled bool   // false: no endpoint
	Listen  string // host:port
}

// DefaultMetrics is the endpoint where the site config says nothing.
func DefaultMetrics() Metrics {
	return Metrics{Enabled: true, Listen: DefaultMetricsListen}
}

type fileMetrics struct {
	Enabled yaml.Node `yaml:"enabled"`
	Listen  yaml.Node `yaml:"listen"`
}

// metrics reads the metrics: section. Its problems are warnings (the
// endpoint decides no limit) and each keeps the safe default: a bad
// switch leaves the endpoint on loopback, a bad address uses the default.
func (p *parser) metrics(fm *fileMetrics) Metrics {
	m := DefaultMetrics()
	if fm.Enabled.Kind != 0 {
		var b bool
		if err := fm.Enabled.Decode(&b); err != nil || fm.Enabled.Tag != "!!bool" {
			p.warn(fm.Enabled.Line, "metrics.enabled: %q: use true or false; the endpoint stays on %s", scalar(&fm.Enabled), m.Listen)
		} else {
			m.Enabled = b
		}
	}
	if fm.Listen.Kind != 0 {
		v := scalar(&fm.Listen)
		if err := checkListen(v); fm.Listen.Kind != yaml.ScalarNode || err != "" {
			p.warn(fm.Listen.Line, "metrics.listen: %q: %s; write host:port, e.g. %s (loopback only) or 0.0.0.0:9847 (every interface); the endpoint uses %s", v, err, DefaultMetricsListen, DefaultMetricsListen)
		} else {
			m.Listen = v
		}
	}
	return m
}

// checkListen says what is wrong with a host:port, or "".
func checkListen(v string) string {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "not host:port"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "the port is not a number from 1 to 65535"
	}
	if host != "" && net.ParseIP(host) == nil {
		return "the host is not an IP address (a name could resolve to another address after a DNS change)"
	}
	return ""
}
