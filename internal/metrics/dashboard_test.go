// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/promtest"
)

const dashboardFile = "../../docs/grafana-softmig.json"

// dashboardQueries returns every PromQL expression of the dashboard.
func dashboardQueries(t *testing.T) map[string]string {
	return promtest.DashboardQueries(t, dashboardFile)
}

// The dashboard uses only names the endpoint exports.
func TestDashboardUsesExportedNames(t *testing.T) {
	known := map[string]bool{"softmig_build_info": true, "process_cpu_seconds_total": true}
	for _, n := range Names() {
		known[n] = true
	}
	ident := regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	seen := map[string]bool{}
	for where, expr := range dashboardQueries(t) {
		for _, id := range ident.FindAllString(expr, -1) {
			if !strings.Contains(id, "_") || id == "label_values" || strings.HasPrefix(id, "__") {
				continue // functions, keywords, labels, Grafana's $__ variables
			}
			seen[id] = true
			if !known[id] {
				t.Errorf("%s uses %q, which the endpoint does not export", where, id)
			}
		}
	}
	for _, n := range []string{"softmig_job_memory_used_bytes", "softmig_job_slice_bytes", "softmig_job_sm_limit_ratio", "softmig_job_lent_seconds_total", "softmig_job_guard_kills_total"} {
		if !seen[n] {
			t.Errorf("the dashboard does not show %s (issue 21 asks for it)", n)
		}
	}
}

// checkDashboardQueries runs every query of the dashboard against p.
func checkDashboardQueries(t *testing.T, p *promtest.Server) {
	p.CheckDashboard(t, dashboardFile)
}

// docs/monitoring.md lists every exported name, and no other.
func TestMetricsDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"softmig_build_info": true}
	for _, n := range Names() {
		known[n] = true
		if !strings.Contains(string(data), "`"+n+"`") {
			t.Errorf("docs/monitoring.md does not list %s", n)
		}
	}
	for _, n := range regexp.MustCompile("`(softmig_[a-z_]+)").FindAllStringSubmatch(string(data), -1) {
		if !known[n[1]] {
			t.Errorf("docs/monitoring.md names %s, which the endpoint does not export", n[1])
		}
	}
}
