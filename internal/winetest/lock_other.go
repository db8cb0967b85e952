//go:build !unix

package winetest

import (
	"errors"
	"os"
)

// lockFile reports that Wine prefixes are made on Unix only: on Windows
// itself the tests start inputlog directly.
func lockFile(*os.File) error { return errors.New("making Wine prefixes needs Unix") }
