package archive

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3ClientConfig says how to reach an S3 service. Credentials not given
// here come from the AWS SDK's standard chain (environment, shared config
// and credentials files, web identity, container and instance roles).
type S3ClientConfig struct {
	// Endpoint is the service URL for S3-compatible stores (MinIO,
	// versitygw, ...); empty means AWS, by region.
	Endpoint string
	Region   string
	// PathStyle addresses buckets as endpoint/bucket rather than as
	// bucket.endpoint; most S3-compatible stores need it.
	PathStyle bool
	// TLS is used for https endpoints; nil means the system roots.
	TLS *tls.Config
	// AccessKeyID and SecretAccessKey, when set, replace the chain.
	AccessKeyID, SecretAccessKey, SessionToken string
	// Profile selects a profile of the shared config files.
	Profile string
}

// NewS3Client builds an AWS SDK client from cfg.
func NewS3Client(ctx context.Context, cfg S3ClientConfig) (*s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
			return nil, errors.New("s3: set both the access key id and the secret access key, or neither")
		}
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.TLS != nil {
		tlsCfg := cfg.TLS
		opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = tlsCfg
		})))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: loading the AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		// S3-compatible stores mostly ignore the region, but the request
		// signature needs one.
		awsCfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	}), nil
}

// ObjectLock is the retention every object gets when it is written.
type ObjectLock struct {
	// Mode is COMPLIANCE (nobody, root included, can shorten it) or
	// GOVERNANCE (users with s3:BypassGovernanceRetention can).
	Mode string
	// Retention is how long after its write an object stays locked.
	Retention time.Duration
	// LegalHold also places a legal hold, which lasts until removed.
	LegalHold bool
}

// S3Backend keeps the archive in an S3 bucket with Object Lock. Objects are
// written once: a key that exists is never written again (a HEAD before
// the PUT, and If-None-Match on the PUT for a writer racing us), every PUT
// carries its SHA-256 checksum, and every object is locked until its
// write time plus the retention.
type S3Backend struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
	lock   ObjectLock
	now    func() time.Time
	// maxObjectBytes is the largest object read back (a variable so that
	// tests need not upload a GiB).
	maxObjectBytes int64
}

// NewS3Backend returns a backend for bucket/prefix. It does not talk to
// the service; Check does.
func NewS3Backend(client *s3.Client, bucket, prefix string, lock ObjectLock) *S3Backend {
	return &S3Backend{client: client, bucket: bucket, prefix: NormalizePrefix(prefix), lock: lock, now: time.Now, maxObjectBytes: maxSegmentBytes}
}

// NormalizePrefix makes a key prefix end in "/" unless it is empty.
func NormalizePrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

func (b *S3Backend) String() string { return "s3://" + b.bucket + "/" + b.prefix }

// CheckError is a failed start-up check. Unreachable says the service did
// not answer (network, 5xx): waiting may help. Otherwise the configuration,
// the credentials or the bucket are wrong, and waiting will not.
type CheckError struct {
	Unreachable bool
	Err         error
}

func (e *CheckError) Error() string { return e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// Check makes sure writing can work before the first record arrives: the
// bucket exists and the credentials are accepted, versioning and Object
// Lock are enabled, and the credentials may put objects and look them up
// (HEAD of a missing key gives 404, not 403). The write check
// sends a PUT whose Content-MD5 cannot match, so a server that lets us
// write answers BadDigest and stores nothing.
func (b *S3Backend) Check(ctx context.Context) error {
	ver, err := b.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b.bucket})
	if err != nil {
		return b.checkError("reading the versioning of", err)
	}
	if ver.Status != types.BucketVersioningStatusEnabled {
		status := string(ver.Status)
		if status == "" {
			status = "not enabled"
		}
		return &CheckError{Err: fmt.Errorf("bucket %q: versioning is %s; an audit archive needs a bucket "+
			"created with Object Lock (which enables versioning)", b.bucket, status)}
	}
	lock, err := b.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &b.bucket})
	if err != nil && !isNoObjectLock(err) {
		return b.checkError("reading the Object Lock configuration of", err)
	}
	if err != nil || lock.ObjectLockConfiguration == nil || lock.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return &CheckError{Err: fmt.Errorf("bucket %q does not have Object Lock enabled, so archived objects "+
			"could be deleted or replaced; create the bucket with Object Lock "+
			"(aws s3api create-bucket --object-lock-enabled-for-bucket, mc mb --with-lock)", b.bucket)}
	}
	return b.checkWrite(ctx)
}

// writeProbeKey is where the write check aims; nothing is stored there.
const writeProbeKey = ".write-probe"

func (b *S3Backend) checkWrite(ctx context.Context) error {
	body := []byte("otelcol-agentaudit write check\n")
	wrong := md5.Sum([]byte("not the body"))
	key := b.prefix + writeProbeKey
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &b.bucket,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(wrong[:])),
	})
	if err == nil {
		// The server stored a body whose Content-MD5 does not match: it
		// checks no digest. Writing works, but say so.
		return &CheckError{Err: fmt.Errorf("bucket %q accepted a PUT with a wrong Content-MD5 (the check object %s "+
			"was stored): this S3 service does not verify upload digests", b.bucket, key)}
	}
	if code := errorCode(err); code != "BadDigest" && code != "InvalidDigest" {
		return b.checkError("writing to", err)
	}
	// Every Put starts with a HEAD of its key. Without s3:ListBucket, S3
	// answers it with 403 rather than 404 for a key that does not exist,
	// so every write would fail, and be retried forever: say so now.
	_, err = b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err == nil || isNotFound(err) {
		return nil
	}
	return b.checkError("reading from", err)
}

// checkError turns an SDK error into a message that says what to fix.
func (b *S3Backend) checkError(doing string, err error) error {
	code := errorCode(err)
	var msg string
	switch code {
	case "NoSuchBucket":
		msg = fmt.Sprintf("bucket %q does not exist", b.bucket)
	case "InvalidAccessKeyId":
		msg = "the access key id is not known to the S3 service: check the credentials (s3.access_key_id, AWS_ACCESS_KEY_ID or the profile)"
	case "SignatureDoesNotMatch":
		msg = "the S3 service rejected the request signature: the secret access key is wrong"
	case "AccessDenied", "AllAccessDisabled", "Forbidden":
		msg = fmt.Sprintf("access denied %s bucket %q: the credentials need s3:GetBucketVersioning, "+
			"s3:GetBucketObjectLockConfiguration, s3:PutObject, s3:PutObjectRetention, s3:PutObjectLegalHold "+
			"(with legal_hold), s3:GetObject and s3:ListBucket", "while "+doing, b.bucket)
	case "ExpiredToken", "InvalidToken", "TokenRefreshRequired":
		msg = "the session token is invalid or expired"
	case "NotImplemented":
		msg = "the S3 service does not implement a request an audit archive needs (versioning, Object Lock, checksums)"
	default:
		if isCredentialsError(err) {
			return &CheckError{Err: fmt.Errorf("no credentials for the S3 service while %s bucket %q: set s3.access_key_id and "+
				"s3.secret_access_key, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile: %w", doing, b.bucket, err)}
		}
		if isCertificateError(err) {
			return &CheckError{Err: fmt.Errorf("the S3 service's TLS certificate does not verify while %s bucket %q: give its CA "+
				"(s3.tls.ca_file) or use the host name the certificate is for: %w", doing, b.bucket, err)}
		}
		if isUnreachable(err) {
			return &CheckError{Unreachable: true, Err: fmt.Errorf("S3 service unreachable while %s bucket %q: %w", doing, b.bucket, err)}
		}
		return &CheckError{Err: fmt.Errorf("%s bucket %q: %w", doing, b.bucket, err)}
	}
	return &CheckError{Err: fmt.Errorf("%s (%s while %s bucket %q)", msg, code, doing, b.bucket)}
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isUnreachable says whether err is the service being away or overloaded
// rather than refusing: no HTTP answer at all, or a 5xx. Failures with no
// answer that waiting does not cure are not: no credentials found (the SDK
// fails before sending), a certificate that does not verify; nor is 501,
// a request the service will never implement.
func isUnreachable(err error) bool {
	if isCredentialsError(err) || isCertificateError(err) {
		return false
	}
	status := httpStatus(err)
	return status == 0 || (status >= 500 && status != http.StatusNotImplemented)
}

// isCredentialsError says whether the SDK found no usable credentials. It
// has no error type for that; its S3 client wraps the failure as "get
// identity: ...".
func isCredentialsError(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), "get identity: ") {
			return true
		}
	}
	var se *v4.SigningError
	return errors.As(err, &se)
}

func isCertificateError(err error) bool {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie)
}

func isNoObjectLock(err error) bool {
	switch errorCode(err) {
	case "ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound", "InvalidRequest":
		return true
	}
	return httpStatus(err) == http.StatusNotFound && errorCode(err) != "NoSuchBucket"
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	return errors.As(err, &nf) || errors.As(err, &nsk) || httpStatus(err) == http.StatusNotFound
}

// Put writes data under key, locked for the retention, unless the key
// already holds it.
func (b *S3Backend) Put(ctx context.Context, key string, data []byte) (bool, error) {
	full := b.prefix + key
	sum := sha256.Sum256(data)
	checksum := base64.StdEncoding.EncodeToString(sum[:])
	if existed, err := b.holds(ctx, full, data, checksum); existed || err != nil {
		return existed, err
	}
	retainUntil := b.now().Add(b.lock.Retention).UTC()
	in := &s3.PutObjectInput{
		Bucket:                    &b.bucket,
		Key:                       &full,
		Body:                      bytes.NewReader(data),
		ContentLength:             aws.Int64(int64(len(data))),
		ContentType:               aws.String(contentTypeOf(key)),
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
		ChecksumSHA256:            &checksum,
		ObjectLockMode:            types.ObjectLockMode(b.lock.Mode),
		ObjectLockRetainUntilDate: &retainUntil,
		// A writer racing us for the same key (a second gateway retrying
		// the same segment) cannot add a version behind our back.
		IfNoneMatch: aws.String("*"),
	}
	if b.lock.LegalHold {
		in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn
	}
	if _, err := b.client.PutObject(ctx, in); err != nil {
		if status := httpStatus(err); status == http.StatusPreconditionFailed || status == http.StatusConflict {
			// Written meanwhile by someone else: the same bytes or not?
			existed, herr := b.holds(ctx, full, data, checksum)
			if herr != nil || existed {
				return existed, herr
			}
			// Some servers (versitygw) refuse If-None-Match for a key
			// whose latest entry is a delete marker, which HEAD does not
			// see through. The first version decides.
			v, verr := b.versionsOf(ctx, full)
			if verr != nil {
				return false, verr
			}
			if v.first != nil {
				return b.firstHolds(ctx, v, data)
			}
			// Only delete markers are left (every version was deleted:
			// GOVERNANCE bypass or retention over). There is nothing to
			// protect, and without this the retry would loop for ever.
			in.IfNoneMatch = nil
			in.Body = bytes.NewReader(data)
			if _, err := b.client.PutObject(ctx, in); err != nil {
				return false, fmt.Errorf("s3: put %s: %w", full, err)
			}
			return false, nil
		}
		return false, fmt.Errorf("s3: put %s: %w", full, err)
	}
	return false, nil
}

// holds says whether key already holds data: by the stored SHA-256 when
// the service returns one, else by reading the object back. A key holding
// other bytes is ErrConflict.
func (b *S3Backend) holds(ctx context.Context, key string, data []byte, checksum string) (bool, error) {
	head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		switch {
		case isNotFound(err) && !isDeleteMarker(err):
			return false, nil
		case !isNotFound(err):
			return false, fmt.Errorf("s3: head %s: %w", key, err)
		}
		// A delete marker: written, then a delete attempted. A PUT would
		// add a version behind the marker (MinIO and AWS accept it), a
		// second copy that hides the marker from the verifier; the first
		// version decides below.
		head = nil
	}
	// HEAD shows the latest version, but the first decides: that is the
	// one the verifier reads, and a later one is a finding, not our write.
	v, err := b.versionsOf(ctx, key)
	if err != nil {
		return false, err
	}
	if head != nil && v.first != nil && head.VersionId != nil && aws.ToString(v.first.VersionId) == *head.VersionId &&
		head.ChecksumSHA256 != nil && *head.ChecksumSHA256 == checksum {
		return true, nil
	}
	return b.firstHolds(ctx, v, data)
}

// isDeleteMarker says whether a failed HEAD found a delete marker as the
// latest entry (AWS and MinIO say so in a header; versitygw does not).
func isDeleteMarker(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.Response != nil && re.Response.Header.Get("X-Amz-Delete-Marker") == "true"
}

// firstHolds reads v's first version back. Other bytes holding the same
// lines are the same segment (see sameSegment).
func (b *S3Backend) firstHolds(ctx context.Context, v *keyVersions, data []byte) (bool, error) {
	if v.first == nil {
		return false, nil
	}
	stored, err := b.get(ctx, v.key, aws.ToString(v.first.VersionId))
	if err != nil {
		return false, err
	}
	if !sameSegment(v.key, stored, data) {
		return true, fmt.Errorf("%w: s3://%s/%s", ErrConflict, b.bucket, v.key)
	}
	return true, nil
}

func contentTypeOf(key string) string {
	switch {
	case strings.HasSuffix(key, CompressionZstd.Suffix()):
		return CompressionZstd.ContentType()
	case strings.HasSuffix(key, CompressionGzip.Suffix()):
		return CompressionGzip.ContentType()
	}
	return CompressionNone.ContentType()
}

// get reads one object (one version, if versionID is set) whole.
func (b *S3Backend) get(ctx context.Context, key, versionID string) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("s3: get %s: %w", key, err)
	}
	defer out.Body.Close()
	if aws.ToInt64(out.ContentLength) > b.maxObjectBytes {
		return nil, fmt.Errorf("s3: get %s: %w", key, errObjectTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(out.Body, b.maxObjectBytes+1))
	if err != nil {
		return nil, fmt.Errorf("s3: get %s: %w", key, err)
	}
	if int64(len(body)) > b.maxObjectBytes {
		return nil, fmt.Errorf("s3: get %s: %w", key, errObjectTooLarge)
	}
	return body, nil
}

// errObjectTooLarge: no segment the exporter writes comes near it (its
// batches are MBs), so such an object is a finding about the archive, not
// a reason to stop reading it.
var errObjectTooLarge = fmt.Errorf("object larger than %d bytes: not read", maxSegmentBytes)

// Get returns the lines of the first version of key (relative to the
// prefix): the one written by the exporter, whatever came after it.
func (b *S3Backend) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := b.versionsOf(ctx, b.prefix+key)
	if err != nil {
		return nil, err
	}
	if v.first == nil {
		if v.deleteMarked {
			return nil, fmt.Errorf("s3: %s%s: %w", b.prefix, key, errAllVersionsDeleted)
		}
		return nil, fmt.Errorf("s3: %s%s: no such object", b.prefix, key)
	}
	body, err := b.get(ctx, b.prefix+key, aws.ToString(v.first.VersionId))
	if err != nil {
		return nil, err
	}
	return DecodeObject(key, body)
}

// keyVersions gathers what a versioned listing says about one key.
type keyVersions struct {
	key          string
	first        *types.ObjectVersion // the oldest version: what was written first
	later        []types.ObjectVersion
	deleteMarked bool // the latest entry is a delete marker
}

func (kv *keyVersions) findings() []string {
	var out []string
	if kv.deleteMarked {
		out = append(out, "a delete marker hides this object from plain listings (a delete was attempted); its first version was read")
	}
	if kv.first == nil {
		return out
	}
	changed := 0
	for _, v := range kv.later {
		if aws.ToString(v.ETag) != aws.ToString(kv.first.ETag) {
			changed++
		}
	}
	if changed > 0 {
		out = append(out, fmt.Sprintf("%d later version(s) with other content were written under this key; its first version was read", changed))
	}
	return out
}

// versionsOf lists the versions of one key.
func (b *S3Backend) versionsOf(ctx context.Context, key string) (*keyVersions, error) {
	var kv *keyVersions
	err := b.listVersions(ctx, key, func(v *keyVersions) error {
		if v.key == key {
			kv = v
		}
		return nil
	})
	if kv == nil && err == nil {
		kv = &keyVersions{key: key}
	}
	return kv, err
}

// listVersions calls fn once per key under prefix, in key order, with all
// its versions. S3 lists a key's entries newest first and may split them
// over pages, so a key is handed on only when the next key starts. A key
// with delete markers and no version left (every version deleted) is
// handed on too, with first nil: that is evidence, not nothing.
func (b *S3Backend) listVersions(ctx context.Context, prefix string, fn func(*keyVersions) error) error {
	p := s3.NewListObjectVersionsPaginator(b.client, &s3.ListObjectVersionsInput{Bucket: &b.bucket, Prefix: &prefix})
	var cur *keyVersions
	flush := func() error {
		if cur == nil {
			return nil
		}
		err := fn(cur)
		cur = nil
		return err
	}
	at := func(k string) error {
		if cur != nil && cur.key == k {
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		cur = &keyVersions{key: k}
		return nil
	}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: listing %s: %w", b.String(), err)
		}
		// Versions and delete markers come in two lists, each in key
		// order; merge them so that keys are handed on in order. Within a
		// key, only the order of its versions matters.
		vs, ms := page.Versions, page.DeleteMarkers
		for len(vs) > 0 || len(ms) > 0 {
			if len(ms) > 0 && (len(vs) == 0 || aws.ToString(ms[0].Key) <= aws.ToString(vs[0].Key)) {
				m := ms[0]
				ms = ms[1:]
				if err := at(aws.ToString(m.Key)); err != nil {
					return err
				}
				if aws.ToBool(m.IsLatest) {
					cur.deleteMarked = true
				}
				continue
			}
			v := vs[0]
			vs = vs[1:]
			if err := at(aws.ToString(v.Key)); err != nil {
				return err
			}
			if cur.first != nil {
				cur.later = append(cur.later, *cur.first)
			}
			cur.first = &v
		}
	}
	return flush()
}

// errAllVersionsDeleted is what a key with only delete markers holds.
var errAllVersionsDeleted = errors.New("every version of this object was deleted; only a delete marker is left")

// Walk reads every segment object's first version, in key order, a few at
// a time so that latency does not dominate.
func (b *S3Backend) Walk(ctx context.Context, fn func(Object) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type fetched struct {
		obj Object
		err error
	}
	const inFlight = 8
	pending := make(chan chan fetched, inFlight)
	listErr := make(chan error, 1)
	go func() {
		defer close(pending)
		listErr <- b.listVersions(ctx, b.prefix, func(kv *keyVersions) error {
			rel := strings.TrimPrefix(kv.key, b.prefix)
			if !IsSegmentKey(rel) {
				return nil
			}
			res := make(chan fetched, 1)
			select {
			case pending <- res:
			case <-ctx.Done():
				return ctx.Err()
			}
			if kv.first == nil {
				res <- fetched{obj: Object{Key: rel, Corrupt: errAllVersionsDeleted}}
				return nil
			}
			go func() {
				body, err := b.get(ctx, kv.key, aws.ToString(kv.first.VersionId))
				if errors.Is(err, errObjectTooLarge) {
					res <- fetched{obj: Object{Key: rel, Corrupt: errObjectTooLarge, Findings: kv.findings()}}
					return
				}
				if err != nil {
					res <- fetched{err: err}
					return
				}
				data, corrupt := DecodeObject(rel, body)
				res <- fetched{obj: Object{Key: rel, Data: data, Corrupt: corrupt, Findings: kv.findings()}}
			}()
			return nil
		})
	}()
	for res := range pending {
		f := <-res
		if f.err != nil {
			return f.err
		}
		if err := fn(f.obj); err != nil {
			return err
		}
	}
	return <-listErr
}
