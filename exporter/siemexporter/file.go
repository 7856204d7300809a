package siemexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
)

// FileConfig configures the file transport: one event per line, appended to
// Path, rotated by size.
type FileConfig struct {
	// Path of the file events are appended to; its directory is created.
	Path string `mapstructure:"path"`
	// MaxSize rotates the file before a batch would take it past this many
	// bytes (default 100 MiB; 0: never rotate). A batch larger than
	// MaxSize goes whole into a fresh file: events are never split.
	MaxSize int64 `mapstructure:"max_size"`
	// MaxBackups is how many rotated files are kept, oldest deleted first
	// (default 0: all are kept).
	MaxBackups int `mapstructure:"max_backups"`
	// Fsync makes every batch durable before it is acknowledged (default
	// true): with a persistent queue, a crash then loses nothing and
	// repeats at most the batch in flight.
	Fsync bool `mapstructure:"fsync"`
}

const defaultFileMaxSize = 100 << 20

// Validate checks the configuration.
func (c *FileConfig) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Path) == "" {
		errs = append(errs, errors.New("path must be set"))
	} else if b := filepath.Base(c.Path); strings.HasSuffix(c.Path, "/") || strings.HasSuffix(c.Path, string(filepath.Separator)) || b == "." || b == ".." {
		errs = append(errs, fmt.Errorf("path %q names a directory: give the file events are appended to", c.Path))
	} else if st, err := os.Stat(c.Path); err == nil && st.IsDir() {
		errs = append(errs, fmt.Errorf("path %q is a directory: give the file events are appended to", c.Path))
	}
	if c.MaxSize < 0 {
		errs = append(errs, errors.New("max_size must not be negative"))
	}
	if c.MaxBackups < 0 {
		errs = append(errs, errors.New("max_backups must not be negative"))
	}
	return errors.Join(errs...)
}

// fileTransport appends events to a file. A batch is written in one write
// and, when it fails part way, the file is cut back to where the batch
// began, so a retry never leaves half an event in front of a whole one.
type fileTransport struct {
	cfg     *FileConfig
	set     transportSettings
	rotated func(ctx context.Context)
	now     func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
}

func newFileTransport(cfg *FileConfig, set transportSettings, rotated func(ctx context.Context)) *fileTransport {
	return &fileTransport{cfg: cfg, set: set, rotated: rotated, now: time.Now}
}

func (t *fileTransport) start(context.Context, component.Host) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(t.cfg.Path), 0o750); err != nil {
		return fmt.Errorf("file: %w", err)
	}
	return t.open()
}

// open opens (or creates) the file for appending. A file that does not end
// in a newline holds the torn end of a batch the collector was writing when
// it stopped; the batch was not acknowledged and will be sent again, so the
// torn part is cut off.
func (t *fileTransport) open() error {
	f, err := os.OpenFile(t.cfg.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	size, err := completeLines(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("file %s: %w", t.cfg.Path, err)
	}
	if st, err := f.Stat(); err == nil && st.Size() != size {
		t.set.logger.Warn("Cut off the torn last line of the SIEM output file (a batch interrupted by a stop; it is sent again)",
			zap.String("path", t.cfg.Path), zap.Int64("bytes", st.Size()-size))
		if err := f.Truncate(size); err != nil {
			f.Close()
			return fmt.Errorf("file %s: %w", t.cfg.Path, err)
		}
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("file %s: %w", t.cfg.Path, err)
	}
	t.f, t.size = f, size
	return nil
}

// completeLines returns the length of f up to and including its last
// newline.
func completeLines(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := min(int64(len(buf)), end)
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

func (t *fileTransport) send(ctx context.Context, events []event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		if err := t.open(); err != nil {
			return err
		}
	}
	t.buf = t.buf[:0]
	replaced := 0
	for i := range events {
		start := len(t.buf)
		t.buf = append(t.buf, bytes.TrimRight(events[i].payload, "\r\n")...)
		// One event, one line: a line break inside the payload (JSON
		// whitespace, or a formatter slip) would split the event, and the
		// agent tailing the file would read the rest as an event of its
		// own. The formatters write none; this is the guard.
		for j := start; j < len(t.buf); j++ {
			if t.buf[j] == '\n' || t.buf[j] == '\r' {
				t.buf[j] = ' '
				replaced++
			}
		}
		t.buf = append(t.buf, '\n')
	}
	if replaced > 0 {
		t.set.logger.Warn("file: line breaks inside events replaced by spaces (one event is one line)", zap.Int("count", replaced))
	}
	if t.cfg.MaxSize > 0 && t.size > 0 && t.size+int64(len(t.buf)) > t.cfg.MaxSize {
		if err := t.rotate(ctx); err != nil {
			return err
		}
	}
	n, err := t.f.Write(t.buf)
	if err == nil && t.cfg.Fsync {
		err = t.f.Sync()
	}
	if err != nil {
		// Cut the partial batch off; if even that fails, reopen next time
		// (open cuts a torn last line).
		if n > 0 {
			if terr := t.f.Truncate(t.size); terr != nil {
				t.f.Close()
				t.f = nil
			} else if _, serr := t.f.Seek(t.size, io.SeekStart); serr != nil {
				t.f.Close()
				t.f = nil
			}
		}
		return fmt.Errorf("file %s: %w", t.cfg.Path, err)
	}
	t.size += int64(n)
	return nil
}

// rotate renames the current file to Path.<UTC time> and starts a new one.
func (t *fileTransport) rotate(ctx context.Context) error {
	if err := t.f.Close(); err != nil {
		t.set.logger.Warn("Closing the SIEM output file before rotation failed", zap.Error(err))
	}
	t.f = nil
	name := t.cfg.Path + "." + t.now().UTC().Format("20060102T150405.000000000Z")
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s.%s-%d", t.cfg.Path, t.now().UTC().Format("20060102T150405.000000000Z"), i)
	}
	if err := os.Rename(t.cfg.Path, name); err != nil {
		return fmt.Errorf("file: rotate: %w", err)
	}
	if t.rotated != nil {
		t.rotated(ctx)
	}
	if err := t.open(); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced.
	if t.cfg.Fsync {
		if d, err := os.Open(filepath.Dir(t.cfg.Path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	t.removeOldBackups()
	return nil
}

// rotatedSuffix matches what rotate appends to Path.
var rotatedSuffix = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z(-\d+)?$`)

// backups lists the rotated files of Path, oldest first (their names sort
// by time).
func (t *fileTransport) backups() []string {
	matches, _ := filepath.Glob(globEscape(t.cfg.Path) + ".*")
	var out []string
	for _, m := range matches {
		if rotatedSuffix.MatchString(strings.TrimPrefix(m, t.cfg.Path+".")) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

func (t *fileTransport) removeOldBackups() {
	if t.cfg.MaxBackups <= 0 {
		return
	}
	b := t.backups()
	for len(b) > t.cfg.MaxBackups {
		if err := os.Remove(b[0]); err != nil {
			t.set.logger.Warn("Removing an old rotated SIEM output file failed", zap.String("path", b[0]), zap.Error(err))
		}
		b = b[1:]
	}
}

// globEscape escapes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (t *fileTransport) shutdown(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}
