// SPDX-License-Identifier: Apache-2.0

package slurm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

func TestReadConf(t *testing.T) {
	dir := t.TempDir()
	main := `# a site's slurm.conf
ClusterName=c1
Prolog=/etc/slurm/prolog.sh   # the site's
prolog=/usr/share/softmig/slurm/prolog.sh
GresTypes=gpu,shard
SlurmctldParameters="enable_configless idle_on_node_suspend"
NodeName=DEFAULT RealMemory=1000 Gres=gpu:l40s:1
Include nodes.conf
NodeName=DEFAULT Gres=gpu:a100:1
PartitionName=debug Nodes=ALL Default=YES Prolog=/not/global
`
	nodes := "NodeName=gpu[01-03] CPUs=4 Gres=gpu:l40s:4,shard:l40s:16\nNodeName=cpu1 CPUs=2\n"
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "slurm.conf"), []byte(main), 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "nodes.conf"), []byte(nodes), 0o644))
	c, err := ReadConf(filepath.Join(dir, "slurm.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 2 {
		t.Errorf("Files = %v; want slurm.conf and nodes.conf", c.Files)
	}
	p, ok := c.Get("PROLOG")
	if !ok || p.Value != "/usr/share/softmig/slurm/prolog.sh" || p.Line != 4 || p.Key != "prolog" {
		t.Errorf("Get(PROLOG) = %+v, %v; want the last Prolog line (4), keys case-insensitive, PartitionName's ignored", p, ok)
	}
	if !strings.HasSuffix(p.String(), "slurm.conf:4: prolog=/usr/share/softmig/slurm/prolog.sh") {
		t.Errorf("String() = %q", p.String())
	}
	if s, _ := c.Get("SlurmctldParameters"); s.Value != "enable_configless idle_on_node_suspend" {
		t.Errorf("quoted value = %q", s.Value)
	}
	n, line, ok := c.Node("gpu02")
	if !ok || n["gres"] != "gpu:l40s:4,shard:l40s:16" || n["realmemory"] != "1000" || !strings.HasSuffix(line.String(), "nodes.conf:1: NodeName=gpu[01-03] CPUs=4 Gres=gpu:l40s:4,shard:l40s:16") {
		t.Errorf("Node(gpu02) = %v, %+v, %v; want its line over the DEFAULT one", n, line, ok)
	}
	if n, _, ok := c.Node("cpu1"); !ok || n["gres"] != "gpu:l40s:1" || n["cpus"] != "2" {
		t.Errorf("Node(cpu1) = %v, %v; want the DEFAULT Gres", n, ok)
	}
	if _, _, ok := c.Node("gpu04"); ok {
		t.Errorf("Node(gpu04) found; no line names it")
	}
}

func TestReadConfIncludeLoop(t *testing.T) {
	dir := t.TempDir()
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "slurm.conf"), []byte("Include slurm.conf\n"), 0o644))
	if _, err := ReadConf(filepath.Join(dir, "slurm.conf")); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("ReadConf of a file including itself = %v; want an error naming the nesting", err)
	}
}
