package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestValidateJSON(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "luma.yml")
	run := func(yml string) (map[string]any, error) {
		os.WriteFile(cfg, []byte(yml), 0o644)
		var out bytes.Buffer
		root := newRootCmd(&out, &out)
		root.SetArgs([]string{"validate", "--json", "--config", cfg})
		err := root.Execute()
		doc := map[string]any{}
		if jerr := json.Unmarshal(out.Bytes(), &doc); jerr != nil {
			t.Fatalf("not JSON: %v\n%s", jerr, out.String())
		}
		return doc, err
	}
	doc, err := run("name: shop\napps:\n  web:\n    image: web:1\n    servers: [web1]\n")
	if err != nil || doc["valid"] != true || doc["project"] != "shop" {
		t.Fatalf("valid config: %v %v", doc, err)
	}
	doc, err = run("name: shop\napps:\n  web:\n    image: web:1\n    servers: [web1]\n    replicas: 0\n")
	var ex *exitError
	if !errors.As(err, &ex) || ex.code != exitConfig || doc["valid"] != false {
		t.Fatalf("invalid config: %v %v", doc, err)
	}
	first := doc["errors"].([]any)[0].(map[string]any)
	if first["line"] != float64(6) || first["key"] != "apps.web.replicas" || first["file"] != cfg {
		t.Fatalf("error %v", first)
	}
}
