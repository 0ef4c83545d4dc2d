package config

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkParseLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"ignition":{"version":"3.6.0"},"storage":{"files":[`)
	for i := 0; i < 6000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"path":"/srv/d%d/f%d","mode":420,"contents":{"source":"data:,x%d"}}`, i%100, i, i)
	}
	sb.WriteString(`]},"systemd":{"units":[`)
	for i := 0; i < 3000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"name":"s%d.service","enabled":true,"contents":"[Unit]\nA=%d\n[Install]\nWantedBy=x\n"}`, i, i)
	}
	sb.WriteString(`]}}`)
	raw := []byte(sb.String())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
