// Package panel serves the browser panel: the built bundle in dist/,
// embedded in the binary.
package panel

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed dist
var dist embed.FS

// Handler serves the panel's files at /.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return http.FileServer(http.FS(sub))
}
