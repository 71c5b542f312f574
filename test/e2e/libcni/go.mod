module petrel.io/test/libcni-driver

go 1.19

require github.com/containernetworking/cni v1.1.2
