// Command flint provisions a machine on its first boot. See README.md.
package main

import (
	"context"
	"os"

	"github.com/flintboot/flint/cli"
)

func main() {
	err := cli.Run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr)
	os.Exit(cli.ExitCode(err))
}
