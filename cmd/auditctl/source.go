package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
)

// sourceFlags say where an archive is read from: a directory, or
// s3://bucket/prefix with the options below. S3 credentials come from the
// AWS SDK's standard chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// AWS_PROFILE, shared files, instance roles).
type sourceFlags struct {
	endpoint, region, profile, caFile string
	pathStyle                         bool
	progress                          bool
}

func addSourceFlags(fs *flag.FlagSet) *sourceFlags {
	f := &sourceFlags{}
	fs.StringVar(&f.endpoint, "s3-endpoint", os.Getenv("AGENTAUDIT_S3_ENDPOINT"), "URL of an S3-compatible service (default $AGENTAUDIT_S3_ENDPOINT, else AWS)")
	fs.StringVar(&f.region, "s3-region", "", "S3 region (default from the AWS configuration)")
	fs.StringVar(&f.profile, "s3-profile", "", "profile of the AWS shared configuration files")
	fs.StringVar(&f.caFile, "s3-ca-file", "", "PEM CA certificates to trust for an https S3 endpoint")
	fs.BoolVar(&f.pathStyle, "s3-path-style", false, "address the bucket as ENDPOINT/BUCKET (MinIO and most S3-compatible services)")
	fs.BoolVar(&f.progress, "progress", false, "show progress on stderr (default: when stderr is a terminal)")
	return f
}

// openArchive opens a directory or an s3://bucket/prefix URL for reading.
func openArchive(ctx context.Context, target string, f *sourceFlags) (archive.Reader, error) {
	if !strings.HasPrefix(target, "s3://") {
		return archive.OpenDir(target)
	}
	// Not url.Parse: it would decode %XX in the prefix, and archive keys
	// hold such escapes (archive.EscapeName), so s3://b/host%2Eexample
	// would read host.example instead; '?' and '#' are key bytes too.
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(target, "s3://"), "/")
	if bucket == "" {
		return nil, usageError{fmt.Errorf("%q: want s3://BUCKET[/PREFIX]", target)}
	}
	cfg := archive.S3ClientConfig{Endpoint: f.endpoint, Region: f.region, Profile: f.profile, PathStyle: f.pathStyle}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f.caFile)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client, err := archive.NewS3Client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Reading needs no lock settings; they only apply to writes.
	return archive.NewS3Backend(client, bucket, prefix, archive.ObjectLock{}), nil
}

// progress shows how far reading has come, on one terminal line that it
// rewrites a few times a second and ends (done) with the final figures.
type progress struct {
	w       io.Writer
	start   time.Time
	mu      sync.Mutex
	objects int
	bytes   int64
	last    time.Time
	shown   bool
}

// newProgress returns nil (no display) unless forced or stderr is a terminal.
func newProgress(stderr io.Writer, force bool) *progress {
	if !force && !isTerminal(stderr) {
		return nil
	}
	return &progress{w: stderr, start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) add(bytes int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects++
	p.bytes += int64(bytes)
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		p.draw(now)
	}
}

func (p *progress) draw(now time.Time) {
	secs := max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r\033[Kreading: %d objects, %.1f MB, %.1f MB/s, %s", p.objects, float64(p.bytes)/1e6,
		float64(p.bytes)/1e6/secs, now.Sub(p.start).Round(time.Second))
	p.shown = true
}

// done draws the final figures and ends the line.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(time.Now())
	fmt.Fprintln(p.w)
}
