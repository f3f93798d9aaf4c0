// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"sort"

	"github.com/softmig/softmig/cmd/softmig-log/logsum"
	"github.com/softmig/softmig/internal/siteconf"
)

// siteOffers reads the slices a site offers from its site config, so that
// summary's verdict suggests only those, as the --gres to ask for. A GPU
// type is recognised by the job's memory slice: one of its slices must be
// that size, and no other type's.  nil when the site config cannot be read.
func siteOffers(path string) (logsum.Offers, error) {
	cfg, err := siteconf.Load(path)
	if err != nil {
		return nil, err
	}
	byType := map[string][]logsum.Offer{}
	for name, g := range cfg.GPUs {
		if g.Memory == 0 {
			continue // memory from NVML: sizes unknown here
		}
		offers := []logsum.Offer{{Gres: fmt.Sprintf("--gres=gpu:%s:1", name), Memory: int64(g.Memory)}}
		for _, d := range g.Denominators {
			offers = append(offers, logsum.Offer{Gres: fmt.Sprintf("--gres=gpu:%s.%d:1", name, d), Memory: int64(g.Memory) / int64(d)})
		}
		sort.Slice(offers, func(i, j int) bool { return offers[i].Memory < offers[j].Memory })
		byType[name] = offers
	}
	return func(limit int64) []logsum.Offer {
		var found []logsum.Offer
		for _, offers := range byType {
			for _, o := range offers {
				if o.Memory == limit {
					if found != nil {
						return nil // two types have this slice: which one is unknown
					}
					found = offers
					break
				}
			}
		}
		return found
	}, nil
}
