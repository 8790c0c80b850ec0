module github.com/gopersy/persy

go 1.26.8

require (
	github.com/edsrzf/mmap-go v1.2.0
	golang.org/x/sys v0.50.0
	pgregory.net/rapid v1.3.0
)
