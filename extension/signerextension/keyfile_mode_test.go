package signerextension

import (
	"os"
	"path/filepath"
)

// Git keeps no file mode but the executable bit, so a checkout leaves the
// committed test key readable by group and others, and Start would refuse
// it. Restrict it before the tests (the generated lifecycle test among them)
// run.
func init() {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.pem"))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(p, fi.Mode().Perm()&^0o077)
		}
	}
}
