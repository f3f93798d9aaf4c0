// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/siteconf"
)

// Path is where the metrics are served.
const Path = "/metrics"

// NotReady is the body of the 503 a scrape gets before the daemon's first
// round: a restart shows up in Prometheus as this target down for one
// scrape, with this reason, never as every job's figures dropping to zero.
const NotReady = "softmig-guard is starting: no round has completed yet, so there are no figures to report; the next scrape will have them\n"

// Handler serves the metrics of the snapshots source returns (GET /metrics)
// and a line pointing there (GET /). Each scrape takes one snapshot. The
// daemon's own process_* metrics (CPU time, memory, open files) and
// softmig_build_info come with them.
func Handler(source func() Snapshot) http.Handler {
	base := prometheus.NewRegistry()
	base.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "softmig_build_info",
		Help:        "SoftMig's version (the same string every tool's --version prints), as a label; the value is 1.",
		ConstLabels: prometheus.Labels{"version": defs.Version()},
	})
	build.Set(1)
	base.MustRegister(build)
	opts := promhttp.HandlerOpts{
		ErrorLog: log.Default(),
		// A duplicate or a bad label in one job must not hide the others.
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       10 * time.Second,
		// Compressed here instead, faster (gzipped below).
		DisableCompression: true,
	}
	// Scrapes are few (one per Prometheus server and interval): more at
	// once than this is a misconfiguration or an attack on a root daemon.
	inFlight := make(chan struct{}, 4)
	mux := http.NewServeMux()
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		select {
		case inFlight <- struct{}{}:
			defer func() { <-inFlight }()
		default:
			unavailable(w, "too many scrapes at once (4 are running): scrape less often or from fewer servers\n")
			return
		}
		snap := source()
		if snap.Taken.IsZero() {
			unavailable(w, NotReady)
			return
		}
		both := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			fams, err := base.Gather()
			jobs, jerr := Families(&snap)
			return append(fams, jobs...), errors.Join(err, jerr)
		})
		gzipped(promhttp.HandlerFor(both, opts)).ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "softmig-guard: per-job GPU metrics at %s\n", Path)
	})
	return mux
}

func unavailable(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprint(w, why)
}

// Listen opens addr (host:port, as metrics.listen in softmig.yaml(5)),
// with an error that names the address and the fix.
func Listen(addr string) (net.Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("metrics address %q: %w: write host:port, e.g. 127.0.0.1:9847 (metrics.listen in softmig.yaml)", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint cannot listen on %s: %w: free that port, or choose another with metrics.listen in softmig.yaml (or switch the endpoint off with metrics.enabled: false)", addr, err)
	}
	return ln, nil
}

// ServeSite serves as the site config's metrics: section says: not at all
// (nil at once) when metrics.enabled is false, else Serve on
// metrics.listen. This is the one call softmig-guard makes.
func ServeSite(ctx context.Context, m siteconf.Metrics, source func() Snapshot) error {
	if !m.Enabled {
		return nil
	}
	return Serve(ctx, m.Listen, source)
}

// Serve serves Handler(source) on addr until ctx is done, then lets the
// scrapes in flight finish (5 s at most).
func Serve(ctx context.Context, addr string, source func() Snapshot) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, source)
}

// ServeListener is Serve on a listener that is already open.
func ServeListener(ctx context.Context, ln net.Listener, source func() Snapshot) error {
	srv := &http.Server{
		Handler:           Handler(source),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.Default(),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("metrics endpoint on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(stop)
	if e := <-done; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
