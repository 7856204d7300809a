package agentenrichprocessor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Values of agent_audit.file.hash_status: why a file record carries no
// agent_audit.file.sha256.
const (
	StatusMissing      = "missing"       // no such file (any more) when the collector looked
	StatusUnreadable   = "unreadable"    // stat, open or read failed (permissions, I/O error, symlink loop)
	StatusTooLarge     = "too_large"     // larger than max_file_size
	StatusNotRegular   = "not_regular"   // a directory, FIFO, socket or device
	StatusRelativePath = "relative_path" // file.path is not absolute: relative to what the agent saw as its directory, unknown here
	StatusNotAllowed   = "not_allowed"   // outside allowed_paths (symbolic links resolved) or below excluded_paths
	StatusDeleted      = "deleted"       // agent_audit.file.delete: the file is gone by design
	StatusTimeout      = "timeout"       // the batch's hash_timeout ran out first
	StatusOtherHost    = "other_host"    // the record is about another host's file system
)

// readChunk is how much is read between two checks of the deadline.
const readChunk = 64 << 10

// fileResult is the outcome of hashing one file. status is "" on success.
type fileResult struct {
	status    string
	sha256    string
	size      int64
	sizeKnown bool
}

// hasher hashes files under the limits of the configuration. It touches no
// pdata, so it may run on a goroutine of its own.
type hasher struct {
	allowed  []string // cleaned
	excluded []string // cleaned
	maxSize  int64
	// afterResolve, when set, runs once the path is resolved and checked:
	// tests change the tree there, as a racing process could.
	afterResolve func()
}

func newHasher(cfg *Config) *hasher {
	h := &hasher{maxSize: cfg.MaxFileSize}
	h.allowed = withResolved(cfg.AllowedPaths)
	h.excluded = withResolved(cfg.ExcludedPaths)
	return h
}

// withResolved cleans the directories and adds, for one named through a
// symbolic link, where it leads: resolved file paths are compared with
// them, and /var/run excluded must exclude /run too.
func withResolved(dirs []string) []string {
	var out []string
	for _, p := range dirs {
		c := filepath.Clean(p)
		out = append(out, c)
		if r, err := filepath.EvalSymlinks(c); err == nil && r != c {
			out = append(out, r)
		}
	}
	return out
}

// below tells whether path is dir or inside it, by whole path components:
// /home/alice does not contain /home/alice2.
func below(path, dir string) bool {
	if path == dir || dir == string(filepath.Separator) {
		return true
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

func (h *hasher) permitted(path string) bool {
	for _, ex := range h.excluded {
		if below(path, ex) {
			return false
		}
	}
	if len(h.allowed) == 0 {
		return true
	}
	for _, a := range h.allowed {
		if below(path, a) {
			return true
		}
	}
	return false
}

// hash computes the SHA-256 of the file at path. It never fails: what goes
// wrong becomes a status. ctx ends the read between two chunks.
func (h *hasher) hash(ctx context.Context, path string) fileResult {
	if !filepath.IsAbs(path) {
		return fileResult{status: StatusRelativePath}
	}
	clean := filepath.Clean(path)
	if !h.permitted(clean) {
		return fileResult{status: StatusNotAllowed}
	}
	// Symbolic links are followed, as the agent's own open would have
	// followed them, but where they lead must be allowed too: a link in an
	// allowed tree must not make the collector read (and publish a hash of)
	// a file outside it.
	resolved, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return fileResult{status: errStatus(err)}
	}
	if !h.permitted(resolved) {
		return fileResult{status: StatusNotAllowed}
	}
	if h.afterResolve != nil {
		h.afterResolve()
	}
	// Stat before opening: opening a FIFO blocks, and opening a device can
	// have effects (a watchdog arms, a tape rewinds).
	fi, err := os.Lstat(resolved)
	if err != nil {
		return fileResult{status: errStatus(err)}
	}
	if !fi.Mode().IsRegular() {
		return fileResult{status: StatusNotRegular}
	}
	if fi.Size() > h.maxSize {
		return fileResult{status: StatusTooLarge, size: fi.Size(), sizeKnown: true}
	}
	// The path may have been swapped since: O_NOFOLLOW refuses a link put in
	// its place, O_NONBLOCK keeps a FIFO from blocking the open and
	// O_NOCTTY a terminal from becoming ours; the Stat of the open file
	// below decides.
	f, err := os.OpenFile(resolved, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return fileResult{status: errStatus(err)}
	}
	defer f.Close()
	if !h.openedPermitted(f, resolved) {
		return fileResult{status: StatusNotAllowed}
	}
	ofi, err := f.Stat()
	if err != nil {
		return fileResult{status: errStatus(err)}
	}
	if !ofi.Mode().IsRegular() {
		return fileResult{status: StatusNotRegular}
	}
	if ofi.Size() > h.maxSize {
		return fileResult{status: StatusTooLarge, size: ofi.Size(), sizeKnown: true}
	}
	// The size can grow while reading; the limit holds whatever stat said.
	sum := sha256.New()
	r := io.LimitReader(f, h.maxSize+1)
	buf := make([]byte, readChunk)
	var n int64
	// Each read either advances (at most maxSize+1 bytes in all) or ends;
	// empty reads without an error are a broken file system, and stop the
	// loop after a few.
	for empty := 0; ; {
		if ctx.Err() != nil {
			return fileResult{status: StatusTimeout}
		}
		k, err := r.Read(buf)
		sum.Write(buf[:k])
		n += int64(k)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fileResult{status: errStatus(err)}
		}
		if k == 0 {
			if empty++; empty > 100 {
				return fileResult{status: StatusUnreadable}
			}
		}
	}
	if n > h.maxSize {
		return fileResult{status: StatusTooLarge}
	}
	return fileResult{sha256: hex.EncodeToString(sum.Sum(nil)), size: n, sizeKnown: true}
}

// openedPermitted checks where the open file really is. O_NOFOLLOW guards
// the last component only: a directory of the path swapped for a symbolic
// link after EvalSymlinks would lead the open out of the allowed tree.
// Linux names the open file in /proc/self/fd; elsewhere the path is
// resolved again and must still be the file that was opened.
func (h *hasher) openedPermitted(f *os.File, resolved string) bool {
	if rc, err := f.SyscallConn(); err == nil {
		var real string
		var rerr error
		if err := rc.Control(func(fd uintptr) {
			real, rerr = os.Readlink("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
		}); err == nil && rerr == nil && filepath.IsAbs(real) {
			return h.permitted(strings.TrimSuffix(real, " (deleted)"))
		}
	}
	again, err := filepath.EvalSymlinks(resolved)
	if err != nil || again != resolved {
		return false
	}
	fi, err := os.Lstat(resolved)
	if err != nil {
		return false
	}
	ofi, err := f.Stat()
	return err == nil && os.SameFile(fi, ofi)
}

// errStatus classifies a file system error.
func errStatus(err error) string {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return StatusMissing
	}
	return StatusUnreadable
}
