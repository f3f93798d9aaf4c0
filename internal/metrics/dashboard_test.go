package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/promtest"
)

const dashboardFile = "../../docs/grafana-softmig.json"

// dashboardQueries returns every PromQL expression of the dashboard: the
// panels' targets and the variables' queries, by where they are.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	q := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			q["panel "+p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if m, ok := v.Query.(map[string]any); ok && v.Type == "query" {
			q["variable "+v.Name], _ = m["query"].(string)
		}
	}
	if len(q) < 10 {
		t.Fatalf("%s: only %d queries found: is the layout read right?", dashboardFile, len(q))
	}
	return q
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

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*[a-z]+\)$`)

// checkDashboardQueries runs every query of the dashboard against p, with
// the variables set to "all", and wants data from each.
func checkDashboardQueries(t *testing.T, p *promtest.Server) {
	vars := strings.NewReplacer(`$instance`, `.+`, `$jobid`, `.+`, `$__rate_interval`, `15s`)
	for where, expr := range dashboardQueries(t) {
		q := vars.Replace(expr)
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1] // the values come from these series
		}
		if got := p.Query(t, q); len(got) == 0 {
			t.Errorf("%s: %s returns no data", where, q)
		}
	}
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
