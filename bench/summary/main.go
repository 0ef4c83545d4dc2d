// Command summary prints the rows the bench programs recorded (see
// bench/internal/summary) as one table: go run ./bench/summary FILE.
package main

import (
	"fmt"
	"os"

	"github.com/flintboot/flint/bench/internal/summary"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/summary FILE")
		os.Exit(2)
	}
	if err := summary.Print(os.Stdout, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "bench/summary:", err)
		os.Exit(1)
	}
}
