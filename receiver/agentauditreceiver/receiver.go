package agentauditreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/receiver/agentauditreceiver/internal/metadata"
)

// EventsPath is where the native API takes events.
const EventsPath = "/v1/events"

// transport and format name the operation in the receiver's obsreport metrics.
const (
	transport = "http"
	format    = "agentaudit_json"
)

type agentAuditReceiver struct {
	cfg       *Config
	settings  receiver.Settings
	next      consumer.Logs
	obsrecv   *receiverhelper.ObsReport
	telemetry *metadata.TelemetryBuilder
	limits    auditrecord.Limits

	server *http.Server
	wg     sync.WaitGroup

	// tailer reads agent transcripts (transcripts.go); nil when off.
	tailer *transcriptTailer
}

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Logs) (*agentAuditReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              transport,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &agentAuditReceiver{
		cfg:       cfg,
		settings:  set,
		next:      next,
		obsrecv:   obsrecv,
		telemetry: tb,
		limits: auditrecord.Limits{
			MaxEvents: cfg.MaxEventsPerRequest,
			MaxDepth:  cfg.MaxNestingDepth,
			MaxKeys:   cfg.MaxKeysPerObject,
		},
	}, nil
}

func (r *agentAuditReceiver) Start(ctx context.Context, host component.Host) error {
	mux := http.NewServeMux()
	mux.HandleFunc(EventsPath, r.handleEvents)
	mux.HandleFunc(ClaudeCodeHooksPath, r.handleClaudeCodeHook)
	var err error
	r.server, err = r.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, mux,
		confighttp.WithErrorHandler(r.errorHandler))
	if err != nil {
		return err
	}
	ln, err := r.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("agentaudit receiver cannot listen on %s: %w", r.cfg.ServerConfig.NetAddr.Endpoint, err)
	}
	r.settings.Logger.Info("Agent audit API listening", zap.String("endpoint", ln.Addr().String()), zap.String("path", EventsPath))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	if r.cfg.Transcripts.Enabled() {
		return r.startTranscripts(ctx, host)
	}
	return nil
}

func (r *agentAuditReceiver) Shutdown(ctx context.Context) error {
	var err error
	if r.server != nil {
		// Shutdown lets requests in flight finish, so an event is never
		// acknowledged after the pipeline behind it has stopped.
		err = r.server.Shutdown(ctx)
		r.wg.Wait()
	}
	if r.tailer != nil {
		// After the server: like a request in flight, the batch in flight
		// is finished and its offset committed before the pipeline stops.
		err = errors.Join(err, r.tailer.shutdown(ctx))
		r.tailer = nil
	}
	r.telemetry.Shutdown()
	return err
}

// response is the JSON body of every answer of the events endpoint.
type response struct {
	Accepted int                   `json:"accepted"`
	Error    string                `json:"error,omitempty"`
	Problems []auditrecord.Problem `json:"problems,omitempty"`
}

// readRequest checks a request's method, media type and size and reads
// its body. On a refusal it has answered and ok is false. onlyJSON, when
// not empty, refuses with that text a body that is not one JSON object.
func (r *agentAuditReceiver) readRequest(w http.ResponseWriter, req *http.Request, onlyJSON string) (fmtType auditrecord.Format, body []byte, ok bool) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.refuse(req.Context(), w, http.StatusMethodNotAllowed, "method_not_allowed", response{Error: "use POST"})
		return 0, nil, false
	}
	fmtType, err := bodyFormat(req.Header.Get("Content-Type"))
	if err == nil && onlyJSON != "" && fmtType != auditrecord.FormatJSON {
		err = errors.New(onlyJSON)
	}
	if err != nil {
		r.refuse(req.Context(), w, http.StatusUnsupportedMediaType, "unsupported_media_type", response{Error: err.Error()})
		return 0, nil, false
	}
	if req.ContentLength > r.cfg.ServerConfig.MaxRequestBodySize {
		r.refuse(req.Context(), w, http.StatusRequestEntityTooLarge, "too_large", response{Error: r.tooLargeMessage()})
		return 0, nil, false
	}
	body, err = io.ReadAll(req.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			r.refuse(req.Context(), w, http.StatusRequestEntityTooLarge, "too_large", response{Error: r.tooLargeMessage()})
			return 0, nil, false
		}
		r.refuse(req.Context(), w, http.StatusBadRequest, "invalid", response{Error: "cannot read body: " + err.Error()})
		return 0, nil, false
	}
	return fmtType, body, true
}

func (r *agentAuditReceiver) handleEvents(w http.ResponseWriter, req *http.Request) {
	fmtType, body, ok := r.readRequest(w, req, "")
	if !ok {
		return
	}
	logs, err := auditrecord.Decode(body, fmtType, r.limits, time.Now())
	if err != nil {
		var inv *auditrecord.InvalidRequestError
		if !errors.As(err, &inv) {
			r.refuse(req.Context(), w, http.StatusBadRequest, "invalid", response{Error: err.Error()})
			return
		}
		if inv.TooLarge {
			r.refuse(req.Context(), w, http.StatusRequestEntityTooLarge, "too_large", response{Error: inv.Problems[0].Reason})
			return
		}
		r.telemetry.ReceiverAgentauditEventsInvalid.Add(req.Context(), int64(invalidEvents(inv.Problems)))
		r.refuse(req.Context(), w, http.StatusBadRequest, "invalid", response{
			Error:    "request refused: no event of it was accepted",
			Problems: inv.Problems,
		})
		return
	}

	n := logs.LogRecordCount()
	ctx := r.obsrecv.StartLogsOp(req.Context())
	err = r.next.ConsumeLogs(ctx, logs)
	r.obsrecv.EndLogsOp(ctx, format, n, err)
	if err != nil {
		code := statusForPipelineError(err)
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", strconv.Itoa(int(r.cfg.RetryAfter/time.Second)))
		}
		r.settings.Logger.Debug("Pipeline refused events", zap.Int("events", n), zap.Error(err))
		r.refuse(req.Context(), w, code, "pipeline_refused", response{Error: "pipeline refused the events, retry later: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, response{Accepted: n})
}

func (r *agentAuditReceiver) tooLargeMessage() string {
	return fmt.Sprintf("body larger than max_request_body_size (%d bytes)", r.cfg.ServerConfig.MaxRequestBodySize)
}

// errorHandler answers the errors confighttp raises before our handler
// (authentication, decompression) in the same JSON shape.
func (r *agentAuditReceiver) errorHandler(w http.ResponseWriter, req *http.Request, msg string, code int) {
	reason := "invalid"
	if code == http.StatusUnauthorized {
		reason = "unauthorized"
	}
	r.refuse(req.Context(), w, code, reason, response{Error: msg})
}

func (r *agentAuditReceiver) refuse(ctx context.Context, w http.ResponseWriter, code int, reason string, resp response) {
	r.telemetry.ReceiverAgentauditRequestsRefused.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	writeJSON(w, code, resp)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// bodyFormat maps the Content-Type to a framing.
func bodyFormat(contentType string) (auditrecord.Format, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, fmt.Errorf("Content-Type %q is not understood; send application/json or application/x-ndjson", contentType)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return 0, fmt.Errorf("charset %q is not supported; send UTF-8", cs)
	}
	switch mediaType {
	case "application/json":
		return auditrecord.FormatJSON, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines":
		return auditrecord.FormatNDJSON, nil
	}
	return 0, fmt.Errorf("Content-Type %q is not supported; send application/json or application/x-ndjson", mediaType)
}

// statusForPipelineError maps an error of the next consumer to an HTTP
// status. Everything the client may retry gets 429 or 503, so an event the
// pipeline did not take is never answered with 2xx and never given up on by
// a well-behaved client.
func statusForPipelineError(err error) int {
	if s, ok := status.FromError(err); ok && s.Code() == codes.ResourceExhausted {
		return http.StatusTooManyRequests
	}
	if errors.Is(err, exporterhelper.ErrQueueIsFull) {
		return http.StatusTooManyRequests
	}
	if consumererror.IsPermanent(err) {
		return http.StatusInternalServerError
	}
	return http.StatusServiceUnavailable
}

func invalidEvents(problems []auditrecord.Problem) int {
	seen := map[int]bool{}
	for _, p := range problems {
		if p.Index != nil {
			seen[*p.Index] = true
		}
	}
	return len(seen)
}
