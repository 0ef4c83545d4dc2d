// Package summary gathers the headline row of every bench program into one
// table: each program appends its rows to the file FLINT_BENCH_SUMMARY
// names (nothing when it is unset, as when a bench runs on its own), and
// `make bench` prints them together at the end (bench/summary).
package summary

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Env names the file the rows are appended to.
const Env = "FLINT_BENCH_SUMMARY"

// Add records one row: what was measured, the figure as a user would read
// it (a ratio to the floor measured in the same run, a size, a count), the
// target and whether the figure meets it.
func Add(row, figure, target string, ok bool) {
	path := os.Getenv(Env)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench summary:", err)
		return
	}
	defer f.Close()
	verdict := "ok"
	if !ok {
		verdict = "MISSED"
	}
	clean := func(s string) string { return strings.NewReplacer("\t", " ", "\n", " ").Replace(s) }
	fmt.Fprintf(f, "%s\t%s\t%s\t%s\n", clean(row), clean(figure), clean(target), verdict)
}

// Print writes the rows of the file at path as one table.
func Print(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var rows [][]string
	width := []int{len("row"), len("figure"), len("target")}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.SplitN(sc.Text(), "\t", 4)
		if len(c) != 4 {
			continue
		}
		for i := range width {
			width[i] = max(width[i], len(c[i]))
		}
		rows = append(rows, c)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	line := func(c []string) {
		fmt.Fprintf(w, "%-*s  %-*s  %-*s  %s\n", width[0], c[0], width[1], c[1], width[2], c[2], c[3])
	}
	line([]string{"row", "figure", "target", ""})
	for _, c := range rows {
		line(c)
	}
	return nil
}
