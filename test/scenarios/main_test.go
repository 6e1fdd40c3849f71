//go:build integration

package scenarios

import (
	"os"
	"testing"

	"github.com/capprof/capprof/test/collectortest"
)

// TestMain removes the binaries the tests built.
func TestMain(m *testing.M) { os.Exit(collectortest.Main(m)) }
