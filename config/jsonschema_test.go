package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestSchemaFiles fails when config/schema/<version>.json is stale.
// Regenerate with: go test ./config -run TestSchemaFiles -update
func TestSchemaFiles(t *testing.T) {
	for _, v := range Versions {
		name := v.Version.String()
		got, err := JSONSchema(name)
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]any
		if err := json.Unmarshal(got, &probe); err != nil {
			t.Fatalf("%s: generated schema is not JSON: %v", name, err)
		}
		file := filepath.Join("schema", name+".json")
		if *update {
			if err := os.MkdirAll("schema", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil || string(want) != string(got) {
			t.Errorf("%s is stale or missing; regenerate with: go test ./config -run TestSchemaFiles -update", file)
		}
	}
}

func TestSchemaFieldSets(t *testing.T) {
	s30, _ := JSONSchema("3.0.0")
	s37, _ := JSONSchema("3.7.0-experimental")
	var a, b map[string]any
	_ = json.Unmarshal(s30, &a)
	_ = json.Unmarshal(s37, &b)
	if _, ok := a["properties"].(map[string]any)["kernelArguments"]; ok {
		t.Error("3.0.0 schema has kernelArguments")
	}
	if _, ok := b["properties"].(map[string]any)["kernelArguments"]; !ok {
		t.Error("3.7.0-experimental schema lacks kernelArguments")
	}
	if _, err := JSONSchema("2.2.0"); err == nil {
		t.Error("schema for 2.2.0 should be refused")
	}
}
