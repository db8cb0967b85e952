//go:build !windows

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "inputlog is a Windows program: build it with GOOS=windows and run it on Windows or under Wine")
	os.Exit(2)
}
