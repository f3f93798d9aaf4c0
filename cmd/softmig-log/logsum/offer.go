// SPDX-License-Identifier: Apache-2.0

package logsum

import "fmt"

// Offer is one slice the site offers: the request that gets it and its
// memory.
type Offer struct {
	Gres   string // "--gres=gpu:l40s.4:1"
	Memory int64  // bytes
}

// Offers returns the slices the site offers of the GPU type whose slice is
// memLimit bytes, smallest first; nil when the type cannot be told (no site
// config, or several types have a slice of that size).
type Offers func(memLimit int64) []Offer

// SetOffers makes the verdicts name the slice to ask for next time, among
// those the site offers; without it they name none.
func (b *Builder) SetOffers(o Offers) { b.offers = o }

func (b *Builder) offersFor(memLimit int64) []Offer {
	if b.offers == nil || memLimit <= 0 {
		return nil
	}
	return b.offers(memLimit)
}

// smaller is the advice when the peak leaves room: the smallest offered
// slice the peak fills at most Headroom of.
func smaller(d *Device, offers []Offer) string {
	if offers == nil {
		if float64(d.Peak) <= Headroom*float64(d.MemLimit)/2 {
			return ": a smaller slice would do (softmig-conf check lists the slices this site offers)"
		}
		return ": the slice fits"
	}
	for _, o := range offers {
		if o.Memory < d.MemLimit && float64(d.Peak) <= Headroom*float64(o.Memory) {
			d.Ask = o.Gres
			return fmt.Sprintf(": %s (%s) would do", o.Gres, FormatSize(o.Memory))
		}
	}
	d.Ask = fitting(d, offers)
	return ": the slice fits"
}

// fitting returns the request of the slice d has: the one to ask for again.
func fitting(d *Device, offers []Offer) string {
	for _, o := range offers {
		if o.Memory == d.MemLimit {
			return o.Gres
		}
	}
	return ""
}

// larger is the advice after refusals: the smallest offered slice that
// holds what the job needed.
func larger(d *Device, offers []Offer) string {
	if offers == nil {
		return ""
	}
	need := d.Needed
	if need <= d.MemLimit {
		need = d.MemLimit + 1
	}
	for _, o := range offers {
		if o.Memory >= need {
			d.Ask = o.Gres
			return fmt.Sprintf("; next time ask for %s (%s)", o.Gres, FormatSize(o.Memory))
		}
	}
	return "; this site offers no larger slice of this GPU"
}
