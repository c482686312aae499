// Command tenantctl-kubeconform validates folders of manifests as the kubeconform command line
// does, with the same flags, validator, schemas and JSON output, in about half the CPU time on
// trees of many small files such as tenantctl's output.
//
// It links kubeconform's own packages at the version pinned in tools/versions.env and changes
// only how documents reach the validator:
//
//   - kubeconform parses every document twice: once while reading files, to find its kind
//     (resource.Resource.Resources, which also expands a kind: List), and again to validate it. Here a
//     document goes to the validator first, and a document it finds valid is done: a valid
//     document cannot be a List (no List schema exists) and its kind came from the same parse.
//     Any other outcome (invalid, error, skipped, empty, or kind List) is redone exactly the
//     kubeconform command line's way, so every report it prints is the one kubeconform prints.
//   - kubeconform reads every file in one goroutine; here each worker reads its own files.
//
// Only folders and files given as arguments are read (no stdin), and -exit-on-error is refused.
package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/yannh/kubeconform/pkg/config"
	"github.com/yannh/kubeconform/pkg/output"
	"github.com/yannh/kubeconform/pkg/resource"
	"github.com/yannh/kubeconform/pkg/validator"
)

// The kubeconform command line's buffer sizes for reading one document (its resource package).
const (
	initialBufferSize = 4 * 1024 * 1024
	maxBufferSize     = 256 * 1024 * 1024
)

// gcPercent trades memory for CPU: the validator allocates heavily while parsing, and at Go's
// default of 100 the collector takes about a tenth of the CPU on a 10,000-namespace tree; at 400
// the heap stays near 100 MB there. GOGC, when set, wins.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	cfg, usage, err := config.FromFlags(os.Args[0], os.Args[1:])
	if usage != "" {
		if cfg.Help {
			fmt.Println(usage)
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "failed parsing command line: %s\n", err)
		os.Exit(1)
	}
	os.Exit(run(cfg))
}

func run(cfg config.Config) int {
	if cfg.Version {
		fmt.Println("tenantctl-kubeconform")
		return 0
	}
	if len(cfg.Files) == 0 || (len(cfg.Files) == 1 && cfg.Files[0] == "-") {
		fmt.Fprintln(os.Stderr, "tenantctl-kubeconform reads only the folders and files it is given, not stdin")
		return 1
	}
	if cfg.ExitOnError {
		fmt.Fprintln(os.Stderr, "tenantctl-kubeconform does not support -exit-on-error")
		return 1
	}
	ignored := make([]*regexp.Regexp, 0, len(cfg.IgnoreFilenamePatterns))
	for _, pattern := range cfg.IgnoreFilenamePatterns {
		compiled, err := regexp.Compile(pattern)
		if err != nil {
			fmt.Fprintf(os.Stderr, "invalid -ignore-filename-pattern %q: %s\n", pattern, err)
			return 1
		}
		ignored = append(ignored, compiled)
	}
	out, err := output.New(os.Stdout, cfg.OutputFormat, cfg.Summary, false, cfg.Verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	v, err := validator.New(cfg.SchemaLocations, validator.Opts{
		Cache:                cfg.Cache,
		Debug:                cfg.Debug,
		SkipTLS:              cfg.SkipTLS,
		SkipKinds:            cfg.SkipKinds,
		RejectKinds:          cfg.RejectKinds,
		KubernetesVersion:    cfg.KubernetesVersion.String(),
		Strict:               cfg.Strict,
		IgnoreMissingSchemas: cfg.IgnoreMissingSchemas,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	files := make(chan string, 256)
	results := make(chan validator.Result, 256)
	go func() {
		defer close(files)
		for _, root := range cfg.Files {
			if err := walk(root, ignored, files); err != nil {
				results <- validator.Result{Resource: resource.Resource{Path: root}, Err: err, Status: validator.Error}
			}
		}
	}()
	var workers sync.WaitGroup
	for range max(cfg.NumberOfWorkers, 1) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			buffer := make([]byte, initialBufferSize)
			for path := range files {
				validateFile(v, path, buffer, results)
			}
		}()
	}
	go func() {
		workers.Wait()
		close(results)
	}()

	success := true
	for result := range results {
		if result.Status == validator.Error || result.Status == validator.Invalid {
			success = false
		}
		if err := out.Write(result); err != nil {
			fmt.Fprint(os.Stderr, "failed writing log\n")
		}
	}
	out.Flush()
	if !success {
		return 1
	}
	return 0
}

// walk sends the YAML and JSON files under root that no pattern ignores, in lexical order, as
// the kubeconform command line chooses them.
func walk(root string, ignored []*regexp.Regexp, files chan<- string) error {
	return filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.IsDir() {
			return nil
		}
		name := strings.ToLower(entry.Name())
		if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") && !strings.HasSuffix(name, ".json") {
			return nil
		}
		for _, pattern := range ignored {
			if pattern.MatchString(path) {
				return nil
			}
		}
		files <- path
		return nil
	})
}

// validateFile splits a file into documents as kubeconform does and validates each once.
func validateFile(v validator.Validator, path string, buffer []byte, results chan<- validator.Result) {
	file, err := os.Open(path)
	if err != nil {
		results <- validator.Result{Resource: resource.Resource{Path: path}, Err: err, Status: validator.Error}
		return
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	scanner.Buffer(buffer, maxBufferSize)
	scanner.Split(resource.SplitYAMLDocument)
	documents := 0
	for scanner.Scan() {
		if len(scanner.Bytes()) == 0 {
			continue
		}
		document := resource.Resource{Path: path, Bytes: append([]byte(nil), scanner.Bytes()...)}
		documents += validateDocument(v, document, results)
	}
	if err := scanner.Err(); err != nil {
		results <- validator.Result{Resource: resource.Resource{Path: path}, Err: err, Status: validator.Error}
	}
	if documents == 0 {
		results <- v.ValidateResource(resource.Resource{Path: path, Bytes: []byte{}})
	}
}

// validateDocument validates one document and returns how many resources it held.
func validateDocument(v validator.Validator, document resource.Resource, results chan<- validator.Result) int {
	result := v.ValidateResource(document)
	if result.Status == validator.Valid {
		if signature, err := result.Resource.Signature(); err == nil && strings.ToLower(signature.Kind) != "list" {
			results <- result
			return 1
		}
	}
	// The kubeconform command line's own way: a fresh resource, its signature parsed first.
	parts := document.Resources()
	for _, part := range parts {
		results <- v.ValidateResource(part)
	}
	return len(parts)
}
