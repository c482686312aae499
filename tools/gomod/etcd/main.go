// Command etcd is the etcd server, built from the published go.etcd.io/etcd/server/v3 module.
//
// etcd's own main module carries replace directives, which `go install pkg@version` refuses; this
// wrapper module requires the server module at the version pinned in tools/versions.env.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
