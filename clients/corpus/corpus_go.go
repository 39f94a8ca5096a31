// Parses every payload of tests/fixtures/payloads/ with the Go client that openapi-generator makes from
// openapi/ppio.yaml (default options), writes it back, and checks that nothing was lost: the JSON that
// comes out equals the JSON that went in (new keys kept, numeric strings kept as strings, big integers
// exact). Run by `make check-clients` (scripts/clients.py copies it into build/clients/go/corpus/).
//
//	go run ./corpus <payload directory>
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	openapi "github.com/GIT_USER_ID/GIT_REPO_ID"
)

// The schema each folder of the corpus holds.
func target(kind string) interface{} {
	switch kind {
	case "task_result":
		return &openapi.TaskResultResponse{}
	case "webhook":
		return &openapi.WebhookEvent{}
	case "models":
		return &openapi.ModelListResponse{}
	case "error":
		return &openapi.ErrorBody{}
	case "create":
		return &openapi.CreateTaskResponse{}
	}
	return nil
}

func generic(data []byte) (interface{}, error) {
	var v interface{}
	err := json.Unmarshal(data, &v)
	return v, err
}

func check(kind string, data []byte) error {
	model := target(kind)
	if model == nil {
		return fmt.Errorf("no schema for folder %q", kind)
	}
	if err := json.Unmarshal(data, model); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	out, err := json.Marshal(model)
	if err != nil {
		return fmt.Errorf("write back: %w", err)
	}
	want, _ := generic(data)
	got, err := generic(out)
	if err != nil {
		return fmt.Errorf("written JSON does not parse: %w", err)
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("written back differently:\n  in:  %s\n  out: %s", data, out)
	}
	return nil
}

func main() {
	root := os.Args[1]
	files, _ := filepath.Glob(filepath.Join(root, "*", "*.json"))
	sort.Strings(files)
	passed, failed := 0, 0
	for _, file := range files {
		kind := filepath.Base(filepath.Dir(file))
		name := kind + "/" + filepath.Base(file)
		data, err := os.ReadFile(file)
		if err == nil {
			err = check(kind, data)
		}
		if err != nil {
			failed++
			fmt.Printf("FAIL %s: %v\n", name, err)
		} else {
			passed++
			fmt.Printf("ok   %s\n", name)
		}
	}
	fmt.Printf("go: %d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}
