// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/softmig/softmig/internal/logrec"
)

type plotCmd struct {
	Output string `short:"o" placeholder:"FILE" help:"Write the picture to FILE (.svg or .png; - is SVG on stdout). Default: JOB.svg in the current directory."`
	Format string `enum:"svg,png,auto" default:"auto" help:"svg or png; auto: by the name of FILE, else svg."`
	Job    string `arg:"" help:"Job id (12345), array task (12345_7), pid<N>, or a log file path."`
}

var errNothingToPlot = errors.New("nothing to plot")

func (c *plotCmd) Run(e *env) error {
	path, err := e.logPath(c.Job)
	if err != nil {
		return err
	}
	s := newJobSeries()
	skipped, err := e.readRecords(path, s.add)
	if err != nil {
		return err
	}
	switch {
	case s.records == 0 && len(skipped) > 0:
		return fmt.Errorf("%s: %w: none of its %d lines is a record (see above)", path, errNothingToPlot, len(skipped))
	case s.records == 0:
		return fmt.Errorf("%s: %w: the log is empty (the job has not used a GPU yet, or the file was truncated)", path, errNothingToPlot)
	case len(s.devs) == 0:
		return fmt.Errorf("%s: %w: its %d records name no GPU (no process of the job attached one; softmig-log summary %s says why)", path, errNothingToPlot, s.records, c.Job)
	}
	if n := len(skipped); n > 0 && strings.HasPrefix(skipped[n-1].Err, logrec.ErrPartial.Error()) {
		fmt.Fprintf(e.stderr, "softmig-log: %s: the log ends in a partial line (cut off, or still being written): plotted the %d records before it\n", path, s.records)
	}
	job := logJob(path)
	out, format := c.Output, c.Format
	if out == "" {
		out = job + ".svg"
	}
	if format == "auto" {
		format = "svg"
		if strings.EqualFold(filepath.Ext(out), ".png") {
			format = "png"
		}
	}
	w := e.stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := renderJob(w, format, job, s); err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	if out != "-" {
		fmt.Fprintf(e.stderr, "softmig-log: wrote %s\n", out)
	}
	return nil
}

// Colours and sizes of the picture.
var (
	colLimit = color.RGBA{R: 0x44, G: 0x44, B: 0x44, A: 0xff}
	colUsed  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colBad   = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colHeld  = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}

	panelWidth  = 10 * vg.Inch
	panelHeight = 3.2 * vg.Inch
)

// renderJob draws two panels per device, memory against the slice and
// GPU time against the share, on one time axis.
func renderJob(w io.Writer, format, job string, s *jobSeries) error {
	from, to := s.first, s.last
	if !to.After(from) {
		to = from.Add(time.Second)
	}
	var rows [][]*plot.Plot
	for _, d := range s.devices() {
		mem, err := memoryPanel(job, d, from, to)
		if err != nil {
			return err
		}
		gpu, err := timePanel(job, d, from, to)
		if err != nil {
			return err
		}
		rows = append(rows, []*plot.Plot{mem}, []*plot.Plot{gpu})
	}
	height := panelHeight * vg.Length(len(rows))
	var c interface {
		vg.CanvasWriterTo
	}
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(panelWidth, height), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))}
	default:
		c = vgsvg.New(panelWidth, height)
	}
	tiles := draw.Tiles{Rows: len(rows), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}
	canvases := plot.Align(rows, tiles, draw.New(c))
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
	}
	_, err := c.WriteTo(w)
	return err
}

func newPanel(title string, from, to time.Time) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time (UTC)"
	p.X.Tick.Marker = plot.TimeTicks{Format: timeFormat(to.Sub(from))}
	// A margin on both sides, so that the first and last figures are
	// not drawn on the axes.
	pad := to.Sub(from) / 50
	p.X.Min, p.X.Max = unix(from.Add(-pad)), unix(to.Add(pad))
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

func timeFormat(span time.Duration) string {
	if span > 24*time.Hour {
		return "01-02 15:04"
	}
	return "15:04:05"
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// xys turns points into plot coordinates, sorted by time (the processes of
// a job append to its log concurrently), values scaled by scale.
func xys(pts []point, scale float64) plotter.XYs {
	sorted := append([]point(nil), pts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].t.Before(sorted[j].t) })
	out := make(plotter.XYs, len(sorted))
	for i, p := range sorted {
		out[i] = plotter.XY{X: unix(p.t), Y: p.v * scale}
	}
	return out
}

// limitLine draws a limit that holds from each point to the next, and the
// last one to the end of the log.
func limitLine(p *plot.Plot, name string, pts []point, scale float64, to time.Time) error {
	if len(pts) == 0 {
		return nil
	}
	xy := xys(pts, scale)
	xy = append(xy, plotter.XY{X: unix(to), Y: xy[len(xy)-1].Y})
	l, err := plotter.NewLine(xy)
	if err != nil {
		return err
	}
	l.StepStyle = plotter.PostStep
	l.Color = colLimit
	l.Width = vg.Points(1.5)
	l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// dots draws points with a glyph; kills sit on the axis (at y).
func dots(p *plot.Plot, name string, pts []point, scale float64, col color.Color, shape draw.GlyphDrawer) error {
	if len(pts) == 0 {
		return nil
	}
	s, err := plotter.NewScatter(xys(pts, scale))
	if err != nil {
		return err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3.5), Shape: shape}
	p.Add(s)
	p.Legend.Add(name, s)
	return nil
}

const gib = 1 << 30

// legendRoom is the headroom above the highest figure, where the legend goes.
const legendRoom = 1.35

func memoryPanel(job string, d *devSeries, from, to time.Time) (*plot.Plot, error) {
	p := newPanel(fmt.Sprintf("job %s, device %d %s: memory against its slice", job, d.dev, d.uuid), from, to)
	p.Y.Label.Text = "GiB"
	p.Y.Min = 0
	kills := make([]point, len(d.kills))
	for i, k := range d.kills {
		kills[i] = point{k.t, 0}
	}
	for _, err := range []error{
		limitLine(p, "slice", d.slice, 1.0/gib, to),
		dots(p, "held (peak at a process's exit, use at a refusal)", d.held, 1.0/gib, colUsed, draw.CircleGlyph{}),
		dots(p, "asked for and refused", d.asked, 1.0/gib, colBad, draw.TriangleGlyph{}),
		dots(p, "process killed", kills, 1, colBad, draw.CrossGlyph{}),
	} {
		if err != nil {
			return nil, err
		}
	}
	top := 1.0
	for _, pts := range [][]point{d.slice, d.held, d.asked} {
		for _, pt := range pts {
			top = max(top, pt.v/gib)
		}
	}
	p.Y.Max = top * legendRoom
	return p, nil
}

func timePanel(job string, d *devSeries, from, to time.Time) (*plot.Plot, error) {
	p := newPanel(fmt.Sprintf("job %s, device %d: GPU time against its share", job, d.dev), from, to)
	p.Y.Label.Text = "% of the GPU's time"
	p.Y.Min, p.Y.Max = 0, 100*legendRoom
	var ticks []plot.Tick // none above 100 %: the room there is the legend's
	for v := 0; v <= 100; v += 25 {
		ticks = append(ticks, plot.Tick{Value: float64(v), Label: fmt.Sprint(v)})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	for _, err := range []error{
		limitLine(p, "share (SM limit)", d.smLimit, 100, to),
		dots(p, "used", d.share, 100, colUsed, draw.CircleGlyph{}),
		dots(p, "held back (throttled), % of the time since the process's last report", d.heldBack, 100, colHeld, draw.BoxGlyph{}),
	} {
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}
