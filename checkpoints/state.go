package checkpoints

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Variable is one named tensor of a checkpoint, usually a variable of a GoMLX context.
type Variable struct {
	// Scope is the GoMLX scope of the variable, an absolute path such as "/model/dense_0".
	Scope string
	// Name is the name of the variable within its scope, such as "weights".
	Name string
	// Trainable records whether the variable was trainable when it was saved.
	Trainable bool
	// Value holds the tensor.
	Value *tensors.Tensor
}

// Key returns "scope/name", the unique key of the variable and its tensor name in the file.
func (v Variable) Key() string { return key(v.Scope, v.Name) }

func key(scope, name string) string {
	if scope == "" || scope[len(scope)-1] == '/' {
		return scope + name
	}
	return scope + "/" + name
}

// checkKey reports why a variable's scope and name cannot be stored so that splitKey gives them
// back, or nil.
func checkKey(scope, name string) error {
	switch {
	case !strings.HasPrefix(scope, "/"):
		return fmt.Errorf("scope %q is not absolute (must start with \"/\")", scope)
	case scope != "/" && strings.HasSuffix(scope, "/"):
		return fmt.Errorf("scope %q ends with \"/\"", scope)
	case name == "":
		return fmt.Errorf("empty name (scope %q)", scope)
	case strings.Contains(name, "/"):
		return fmt.Errorf("name %q contains \"/\"", name)
	}
	return nil
}

// splitKey is the inverse of key for keys that checkKey accepts: "/a/b/w" is scope "/a/b",
// name "w"; "/w" is scope "/", name "w".
func splitKey(k string) (scope, name string, ok bool) {
	i := strings.LastIndexByte(k, '/')
	if i < 0 || !strings.HasPrefix(k, "/") || i == len(k)-1 {
		return "", "", false
	}
	scope, name = k[:i], k[i+1:]
	if scope == "" {
		scope = "/"
	}
	return scope, name, checkKey(scope, name) == nil
}

// State is everything a checkpoint holds.
type State struct {
	// Step is the number of optimizer updates done.
	Step int64
	// Epoch is the training epoch.
	Epoch int
	// Time is when the state was saved. Save uses the current time when it is zero; Load sets it.
	Time time.Time
	// Config is the training configuration, as JSON (stored verbatim, compacted; may be empty).
	Config json.RawMessage
	// Data is the data-loader position, as JSON (stored verbatim, compacted; may be empty).
	Data json.RawMessage
	// Metrics are named numbers, such as "probe_acc" or "loss". NaN and ±Inf are allowed.
	Metrics map[string]float64
	// Variables are the tensors: model, optimizer and random-number-generator state. Load returns
	// them in the order they were saved in.
	Variables []Variable
}

// Free releases the memory of every tensor of the state. The state must not be used afterwards.
func (s *State) Free() {
	for _, v := range s.Variables {
		if v.Value != nil {
			_ = v.Value.FinalizeAll()
		}
	}
}
