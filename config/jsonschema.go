package config

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
)

// JSONSchema returns a JSON Schema (draft 2020-12) for one spec version,
// generated from the type tree: the field set follows the `since` tags, the
// enums come from the version table. Unknown keys stay allowed (the
// reference only warns about them), so objects are not closed.
func JSONSchema(version string) ([]byte, error) {
	vi, err := LookupVersion(version)
	if err != nil {
		return nil, err
	}
	g := schemaGen{dec: newDecoder(nil, vi.Version), info: vi}
	root := g.object(reflect.TypeOf(Config{}), "")
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://flintboot.github.io/schema/" + vi.Version.String() + ".json"
	root["title"] = "Ignition config, spec " + vi.Version.String()
	root["required"] = []string{"ignition"}
	props := root["properties"].(map[string]any)
	ig := props["ignition"].(map[string]any)
	ig["required"] = []string{"version"}
	ig["properties"].(map[string]any)["version"] = map[string]any{"const": vi.Version.String()}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type schemaGen struct {
	dec    *decoder // for its field plans
	info   VersionInfo
	inFile bool
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (g *schemaGen) object(t reflect.Type, owner string) map[string]any {
	props := map[string]any{}
	sp := g.dec.planFor(t)
	wasFile := g.inFile
	if t == typFile {
		g.inFile = true
	}
	defer func() { g.inFile = wasFile }()
	var required []string
	for _, f := range sp.fields {
		if !g.dec.has(&f) {
			continue
		}
		if t == typResource && f.name == "compression" && !g.inFile && !g.info.CompressionEverywhere {
			continue
		}
		sf := t.FieldByIndex(f.index)
		props[f.name] = g.value(sf.Type, t.Name()+"."+f.name)
		if !strings.Contains(string(sf.Tag.Get("json")), "omitempty") && sf.Type.Kind() == reflect.String {
			required = append(required, f.name)
		}
	}
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (g *schemaGen) value(t reflect.Type, field string) map[string]any {
	nullable := false
	if t.Kind() == reflect.Pointer {
		nullable, t = true, t.Elem()
	}
	var s map[string]any
	switch t.Kind() {
	case reflect.Struct:
		s = g.object(t, field)
	case reflect.Slice:
		nullable = true
		s = map[string]any{"type": "array", "items": g.value(t.Elem(), field)}
	case reflect.String:
		s = map[string]any{"type": "string"}
		switch field {
		case "Filesystem.format":
			s["enum"] = sortedKeys(g.info.Formats)
		case "Resource.compression":
			s["enum"] = []string{"", "gzip"}
		case "Raid.level":
			s["enum"] = raidLevels
		case "Verification.hash":
			s["pattern"] = "^(" + strings.Join(sortedKeys(g.info.Hashes), "|") + ")-[0-9a-fA-F]+$"
		}
	case reflect.Int:
		s = map[string]any{"type": "integer"}
		if strings.HasSuffix(field, ".mode") {
			s["minimum"], s["maximum"] = 0, 07777
		}
	case reflect.Bool:
		s = map[string]any{"type": "boolean"}
	default:
		panic("config: no schema for " + t.String())
	}
	if nullable {
		if ty, ok := s["type"].(string); ok {
			s["type"] = []string{ty, "null"}
		}
		if e, ok := s["enum"].([]string); ok {
			vals := make([]any, 0, len(e)+1)
			for _, x := range e {
				vals = append(vals, x)
			}
			s["enum"] = append(vals, nil)
		}
	}
	return s
}
