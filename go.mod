module github.com/softmig/softmig

go 1.22

require (
	github.com/NVIDIA/go-nvml v0.13.4-1
	github.com/alecthomas/kong v1.17.0
	golang.org/x/sys v0.30.0
	gopkg.in/yaml.v3 v3.0.1
)
